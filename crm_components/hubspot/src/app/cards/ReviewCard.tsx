// The Game Film review card: the rubric form for the review task this user has open, posted
// with hubspot.fetch (HubSpot signs it with the app's client secret; the backend verifies the
// v3 signature and decides who may submit). The form's order and wording come from the backend
// (integration/review_form.py), so the card never has its own copy of the rubric.
import { useEffect, useState } from 'react';
import {
  Alert,
  Button,
  Divider,
  EmptyState,
  Flex,
  Heading,
  LoadingSpinner,
  Select,
  Text,
  TextArea,
  hubspot,
  logger,
} from '@hubspot/ui-extensions';
import type { CrmContext } from '@hubspot/ui-extensions';
import { useAssociations } from '@hubspot/ui-extensions/crm';

import { BACKEND_URL } from './config';
import {
  GENERAL,
  type FormField,
  type ReviewForm,
  type Values,
  criterionKey,
  emptyValues,
  formUrl,
  parseForm,
  placeErrors,
  scoreOptions,
  submissionBody,
  submitUrl,
} from './review-form';

export const TASK_TYPE = '0-27';
const MAX_TASKS_PROBED = 8; // open tasks on one deal asked about at once (20 concurrent per account)

hubspot.extend<'crm.record.tab'>(({ context }) => <ReviewCard context={context} />);

type Lookup = { state: 'loading' } | { state: 'none'; reason: string } | { state: 'failed' } | { state: 'open'; form: ReviewForm };

/** Ask the backend for the form of one task: open for this user, or why not. */
export async function lookUp(taskId: string): Promise<Lookup> {
  try {
    const response = await hubspot.fetch(formUrl(BACKEND_URL, taskId), { method: 'GET' });
    const json = await response.json().catch(() => null);
    if (response.ok) return { state: 'open', form: parseForm(json, taskId) };
    if ([403, 404, 409].includes(response.status)) {
      const errors = json && typeof json === 'object' ? (json as { errors?: Record<string, string> }).errors : undefined;
      return { state: 'none', reason: Object.values(errors ?? {}).join(' ') };
    }
    logger.warn(`Game Film review form: HTTP ${response.status} for task ${taskId}`);
    return { state: 'failed' };
  } catch (error) {
    logger.warn(`Game Film review form for task ${taskId}: ${error instanceof Error ? error.message : 'request failed'}`);
    return { state: 'failed' };
  }
}

export const ReviewCard = ({ context }: { context: CrmContext }) =>
  context.crm.objectTypeId === TASK_TYPE ? <TaskReview taskId={String(context.crm.objectId)} /> : <DealReviews />;

const TaskReview = ({ taskId }: { taskId: string }) => {
  const [lookup, setLookup] = useState<Lookup>({ state: 'loading' });
  useEffect(() => {
    lookUp(taskId).then(setLookup);
  }, [taskId]);
  if (lookup.state === 'open') return <ReviewFormView form={lookup.form} />;
  return <Status lookup={lookup} />;
};

/** On a deal: the deal's open tasks, each asked about; the ones answered are this user's. */
const DealReviews = () => {
  const { results, isLoading, error } = useAssociations({
    toObjectType: TASK_TYPE,
    properties: ['hs_task_subject', 'hs_task_status'],
    pageLength: 50,
  });
  const [forms, setForms] = useState<ReviewForm[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [chosen, setChosen] = useState(0);
  const open = results
    .filter((r) => String(r.properties.hs_task_status ?? '').toUpperCase() !== 'COMPLETED')
    .map((r) => String(r.toObjectId))
    .slice(0, MAX_TASKS_PROBED);
  const openKey = open.join(',');
  useEffect(() => {
    if (isLoading || error) return;
    Promise.all(open.map(lookUp)).then((found) => {
      setFailed(found.some((f) => f.state === 'failed'));
      setForms(found.flatMap((f) => (f.state === 'open' ? [f.form] : [])));
    });
  }, [isLoading, error, openKey]);
  if (error) return <Status lookup={{ state: 'failed' }} />;
  if (isLoading || forms === null) return <Status lookup={{ state: 'loading' }} />;
  if (forms.length === 0) return <Status lookup={failed ? { state: 'failed' } : { state: 'none', reason: '' }} />;
  const form = forms[Math.min(chosen, forms.length - 1)];
  return (
    <Flex direction="column" gap="sm">
      {forms.length > 1 && (
        <Select
          label="Review"
          name="review"
          testId="choose-review"
          value={String(chosen)}
          options={forms.map((f, i) => ({ label: f.task.title || `Review task ${f.task.taskId}`, value: String(i) }))}
          onChange={(value) => setChosen(Number(value))}
        />
      )}
      <ReviewFormView key={form.task.taskId} form={form} />
    </Flex>
  );
};

const Status = ({ lookup }: { lookup: Lookup }) => {
  if (lookup.state === 'loading') return <LoadingSpinner label="Loading your review" />;
  if (lookup.state === 'failed') {
    return (
      <Alert title="Game Film is not reachable" variant="error" testId="unreachable">
        The review form could not be loaded. Reload the record in a minute.
      </Alert>
    );
  }
  return (
    <EmptyState title="No review open for you" layout="vertical" imageName="task" testId="no-review">
      <Text>
        Game Film asks for a review when a call on this deal is assigned to you. Once you submit it, or when the review
        task is completed or reassigned, there is nothing left to fill in here.
      </Text>
      {lookup.state === 'none' && lookup.reason ? <Text variant="microcopy">{lookup.reason}</Text> : null}
    </EmptyState>
  );
};

const ReviewFormView = ({ form }: { form: ReviewForm }) => {
  const [values, setValues] = useState<Values>(() => emptyValues(form));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [submitting, setSubmitting] = useState(false);
  const [score, setScore] = useState<string | null>(null);

  const submit = async () => {
    setSubmitting(true);
    try {
      const response = await hubspot.fetch(submitUrl(BACKEND_URL), { method: 'POST', body: submissionBody(form, values) });
      const json = await response.json().catch(() => null);
      if (response.ok) {
        setErrors({});
        setScore(String((json as { weighted_score?: unknown } | null)?.weighted_score ?? ''));
      } else {
        setErrors(placeErrors(form, json));
      }
    } catch (error) {
      logger.warn(`Game Film review submit for task ${form.task.taskId}: ${error instanceof Error ? error.message : 'request failed'}`);
      setErrors({ [GENERAL]: 'Game Film could not be reached; nothing was saved. Please try again.' });
    } finally {
      setSubmitting(false);
    }
  };

  if (score !== null) {
    return (
      <Alert title="Review saved" variant="success" testId="saved">
        {`Thank you. ${score ? `Weighted score: ${score}. ` : ''}Game Film marks your review task completed.`}
      </Alert>
    );
  }
  const set = (part: 'text' | 'scores', key: string) => (value: string | number | boolean) =>
    setValues((v) => ({ ...v, [part]: { ...v[part], [key]: String(value) } }));
  const setSuggestion = (i: number) => (value: string) =>
    setValues((v) => ({ ...v, suggestions: v.suggestions.map((s, j) => (j === i ? value : s)) }));
  const invalid = (name: string) => ({ error: Boolean(errors[name]), validationMessage: errors[name] });

  const render = (field: FormField) => {
    if (field.kind === 'score') {
      const key = criterionKey(field);
      return (
        <Select key={field.name} name={field.name} label={field.label} description={field.help} required
          testId={field.name} value={values.scores[key]} options={scoreOptions(field)} onChange={set('scores', key)}
          {...invalid(field.name)} />
      );
    }
    if (field.kind === 'choice') {
      return (
        <Select key={field.name} name={field.name} label={field.label} description={field.help} required={field.required}
          testId={field.name} value={values.text[field.name]} options={field.choices} onChange={set('text', field.name)}
          {...invalid(field.name)} />
      );
    }
    if (field.kind === 'suggestions') {
      return (
        <Flex key={field.name} direction="column" gap="xs">
          {values.suggestions.map((text, i) => (
            <TextArea key={i} name={`suggestions[${i}]`} label={i === 0 ? field.label : `${field.label} (second)`}
              description={i === 0 ? field.help : ''} testId={`suggestions[${i}]`} value={text} onChange={setSuggestion(i)}
              error={Boolean(errors[`suggestions[${i}]`] || (i === 0 && errors.suggestions))}
              validationMessage={errors[`suggestions[${i}]`] ?? (i === 0 ? errors.suggestions : undefined)} />
          ))}
        </Flex>
      );
    }
    return (
      <TextArea key={field.name} name={field.name} label={field.label} description={field.help} required={field.required}
        maxLength={field.max ?? undefined} testId={field.name} value={values.text[field.name] ?? ''}
        onChange={set('text', field.name)} {...invalid(field.name)} />
    );
  };

  return (
    <Flex direction="column" gap="sm">
      <Heading>{form.task.kind === 'self' ? 'Your self-assessment' : 'Peer review'}</Heading>
      {form.task.title ? <Text>{form.task.title}</Text> : null}
      <Divider />
      {form.fields.map(render)}
      {errors[GENERAL] ? (
        <Alert title="Not saved" variant="error" testId="general-error">
          {errors[GENERAL]}
        </Alert>
      ) : null}
      <Button variant="primary" testId="submit" disabled={submitting} onClick={submit}>
        {submitting ? 'Saving…' : 'Submit review'}
      </Button>
    </Flex>
  );
};
