// Drives Debian's chromium through the review page like a reviewer: submit without a strength
// (the error must show at its field), then with one (the thank-you). Prints one JSON line.
// Usage: node tests/browser/review_page.mjs <review page URL> <user data dir>
import { chromium } from "playwright-core";

const [url, userDataDir] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const out = {};
try {
  const page = await context.newPage();
  const first = await page.goto(url);
  out.formStatus = first.status();
  out.fields = await page.$$eval("form [name]", (els) => els.map((e) => e.getAttribute("name")));
  for (const select of await page.$$("select[name^='scores.']")) {
    await select.selectOption("4");
  }
  await page.fill("#suggestions-0", "Ask for the decision date before the demo");
  const [noStrength] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  out.errorStatus = noStrength.status();
  out.strengthError = await page.textContent("#error-strengths");
  out.errorNextToField = await page.$eval("#strengths", (el) => el.nextElementSibling && el.nextElementSibling.id);
  out.keptScore = await page.$eval("select[name='scores.closing_technique']", (el) => el.value);
  out.keptSuggestion = await page.inputValue("#suggestions-0");
  await page.fill("#strengths", "Opened with the buyer's own words about the outage");
  const [done] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  out.doneStatus = done.status();
  out.thanks = await page.textContent("#thanks");
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
