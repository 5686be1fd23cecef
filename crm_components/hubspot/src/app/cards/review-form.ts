// The review form as the backend defines it (integration/review_form.py: form_fields), the
// body the card posts and the backend's field errors placed on the card's fields. Pure: no
// HubSpot or React imports, so the rules are tested without rendering.

export type FieldKind = 'text' | 'score' | 'suggestions' | 'choice';

export interface FormField {
  name: string; // the submission's key and the error's field: strengths, scores.<key>, ...
  label: string;
  kind: FieldKind;
  required: boolean;
  help: string;
  min: number | null;
  max: number | null; // score: highest; text: characters; suggestions: how many
  choices: { value: string; label: string }[];
}

export interface ReviewTask {
  taskId: string;
  kind: 'peer' | 'self';
  title: string; // what the card shows above the form: the call's title, else the task's
}

export interface ReviewForm {
  task: ReviewTask;
  fields: FormField[];
}

// What the reviewer typed: text fields by name, scores by criterion key, suggestion boxes.
export interface Values {
  text: Record<string, string>;
  scores: Record<string, string>;
  suggestions: string[];
}

export const FORM_PATH = '/hooks/hubspot/reviews/form';
export const SUBMIT_PATH = '/hooks/hubspot/reviews';
export const GENERAL = '_general'; // errors that belong to no field (wrong person, task closed)

const KINDS: FieldKind[] = ['text', 'score', 'suggestions', 'choice'];

export function formUrl(base: string, taskId: string): string {
  return `${base.replace(/\/+$/, '')}${FORM_PATH}?taskId=${encodeURIComponent(taskId)}`;
}

export function submitUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}${SUBMIT_PATH}`;
}

/** The backend's GET answer as the card uses it; throws on a shape it cannot render. */
export function parseForm(json: unknown, taskId: string): ReviewForm {
  const body = asObject(json, 'form');
  const rawFields = body.fields;
  if (!Array.isArray(rawFields) || rawFields.length === 0) {
    throw new Error('form: fields must be a non-empty list');
  }
  const fields = rawFields.map((raw, i) => parseField(raw, i));
  const task = body.task === undefined ? {} : asObject(body.task, 'form.task');
  const kind = task.kind === 'self' || fields.some((f) => f.name === 'improvement_area') ? 'self' : 'peer';
  const title = [task.title, task.subject, task.callTitle].find((t) => typeof t === 'string' && t.trim());
  return {
    task: { taskId: String(task.taskId ?? task.task_id ?? taskId), kind, title: (title as string | undefined) ?? '' },
    fields,
  };
}

function parseField(raw: unknown, i: number): FormField {
  const f = asObject(raw, `form.fields[${i}]`);
  if (typeof f.name !== 'string' || !f.name || typeof f.label !== 'string') {
    throw new Error(`form.fields[${i}]: name and label are required`);
  }
  const kind = f.kind as FieldKind;
  if (!KINDS.includes(kind)) {
    throw new Error(`form.fields[${i}].kind: unknown kind ${String(f.kind)}`);
  }
  const choices = Array.isArray(f.choices)
    ? f.choices.map((c) =>
        Array.isArray(c) ? { value: String(c[0]), label: String(c[1]) } : { value: String(asObject(c, 'choice').value), label: String(asObject(c, 'choice').label) },
      )
    : [];
  return {
    name: f.name,
    label: f.label,
    kind,
    required: f.required === true,
    help: typeof f.help === 'string' ? f.help : '',
    min: typeof f.min === 'number' ? f.min : null,
    max: typeof f.max === 'number' ? f.max : null,
    choices,
  };
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected an object`);
  }
  return value as Record<string, unknown>;
}

export function criterionKey(field: FormField): string {
  return field.name.slice('scores.'.length);
}

/** The score choices of a criterion: every whole number on the scale. */
export function scoreOptions(field: FormField): { label: string; value: string }[] {
  const lo = field.min ?? 1;
  const hi = field.max ?? 5;
  const out = [];
  for (let n = lo; n <= hi; n += 1) out.push({ label: String(n), value: String(n) });
  return out;
}

export function emptyValues(form: ReviewForm): Values {
  const boxes = form.fields.find((f) => f.kind === 'suggestions')?.max ?? 0;
  return { text: {}, scores: {}, suggestions: Array.from({ length: Math.min(boxes, 2) }, () => '') };
}

/**
 * The POST body: {taskId, scores: {key: int}, ...} with only what this form asks. A peer review
 * sends strengths and the suggestions typed (blank boxes dropped, at most two); a
 * self-assessment sends the one improvement area (and its note when given).
 */
export function submissionBody(form: ReviewForm, values: Values): Record<string, unknown> {
  const body: Record<string, unknown> = { taskId: form.task.taskId };
  const scores: Record<string, number> = {};
  for (const field of form.fields) {
    if (field.kind === 'score') {
      const typed = (values.scores[criterionKey(field)] ?? '').trim();
      if (typed !== '') scores[criterionKey(field)] = Number(typed);
    } else if (field.kind === 'suggestions') {
      body.suggestions = values.suggestions
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .slice(0, field.max ?? 2);
    } else {
      const typed = (values.text[field.name] ?? '').trim();
      if (typed !== '' || field.required) body[field.name] = typed;
    }
  }
  body.scores = scores;
  return body;
}

/**
 * The backend's {"errors": {field: message}} keyed by where the card shows them: a form field's
 * name, `suggestions[i]` for one box, GENERAL for what belongs to no field.
 */
export function placeErrors(form: ReviewForm, json: unknown): Record<string, string> {
  const errors = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).errors : undefined;
  const out: Record<string, string> = {};
  if (typeof errors !== 'object' || errors === null) {
    out[GENERAL] = 'The review could not be saved. Please try again.';
    return out;
  }
  const names = new Set(form.fields.map((f) => f.name));
  for (const [key, message] of Object.entries(errors as Record<string, unknown>)) {
    const text = String(message);
    if (names.has(key) || /^suggestions\[\d+\]$/.test(key)) {
      out[key] = text;
    } else {
      out[GENERAL] = out[GENERAL] ? `${out[GENERAL]} ${text}` : text;
    }
  }
  return out;
}
