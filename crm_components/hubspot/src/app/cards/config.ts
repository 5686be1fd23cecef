// Where Game Film is deployed (API Gateway URL or custom domain, no trailing slash). It must
// also be listed in app-hsmeta.json permittedUrls.fetch, or hubspot.fetch refuses the request;
// the card's tests check both say the same.
export const BACKEND_URL = 'https://gamefilm.example.com';
