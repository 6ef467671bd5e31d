// The builder's form state and its translation to and from the API's InsightAgentSpec; what is checked before saving.
import type {
  ApplyAction,
  ArrayItemType,
  FieldType,
  InsightAgentSpec,
  InsightEventType,
  InsightModel,
  InsightTrigger,
  OutputField,
  TriggerMode,
} from '../api/types';
import { t } from '../i18n/pt-BR';

export const FIELD_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/** Numbers are kept as typed (strings) until saved, so a half-typed value is not lost. */
export interface TriggerForm {
  key: number;
  trigger_id: string;
  event: InsightEventType;
  keywords: string;
  mode: TriggerMode;
  min_lead_messages: string;
  max_per_conversation: string;
  conversation_window_minutes: string;
  max_per_day: string;
}

export interface FieldForm {
  key: number;
  name: string;
  type: FieldType;
  description: string;
  required: boolean;
  options: string[];
  items: ArrayItemType;
  minimum: string;
  maximum: string;
}

export interface BuilderForm {
  name: string;
  icon: string;
  description: string;
  prompt: string;
  model: InsightModel;
  active: boolean;
  triggers: TriggerForm[];
  fields: FieldForm[];
  apply_action: ApplyAction;
  /** '' for none. */
  message_field: string;
  send_conversion: boolean;
  template: string | null;
}

let nextKey = 1;
/** A React key for a new row (rows move and are removed, so their index is no key). */
export const rowKey = () => nextKey++;

const text = (value: number | null | undefined) => (value === null || value === undefined ? '' : String(value));

export function newTrigger(event: InsightEventType = 'NEW_MESSAGE_RECEIVED'): TriggerForm {
  return {
    key: rowKey(),
    trigger_id: '',
    event,
    keywords: '',
    mode: 'any',
    min_lead_messages: '0',
    max_per_conversation: '',
    conversation_window_minutes: '60',
    max_per_day: '',
  };
}

export function newField(type: FieldType = 'string'): FieldForm {
  return { key: rowKey(), name: '', type, description: '', required: true, options: [], items: 'string', minimum: '', maximum: '' };
}

export function emptyForm(): BuilderForm {
  return {
    name: '',
    icon: '✨',
    description: '',
    prompt: '',
    model: 'fast',
    active: true,
    triggers: [newTrigger()],
    fields: [],
    apply_action: 'none',
    message_field: '',
    send_conversion: false,
    template: null,
  };
}

export function triggerToForm(trigger: InsightTrigger): TriggerForm {
  return {
    key: rowKey(),
    trigger_id: trigger.trigger_id,
    event: trigger.event,
    keywords: trigger.keywords.join(', '),
    mode: trigger.mode,
    min_lead_messages: text(trigger.min_lead_messages),
    max_per_conversation: text(trigger.max_per_conversation),
    conversation_window_minutes: text(trigger.conversation_window_minutes),
    max_per_day: text(trigger.max_per_day),
  };
}

export function fieldToForm(field: OutputField): FieldForm {
  return {
    key: rowKey(),
    name: field.name,
    type: field.type,
    description: field.description ?? '',
    required: field.required,
    options: [...(field.options ?? [])],
    items: field.items ?? 'string',
    minimum: text(field.minimum),
    maximum: text(field.maximum),
  };
}

export function specToForm(spec: InsightAgentSpec): BuilderForm {
  return {
    name: spec.name,
    icon: spec.icon,
    description: spec.description,
    prompt: spec.prompt,
    model: spec.model,
    active: spec.active,
    triggers: spec.triggers.map(triggerToForm),
    fields: spec.fields.map(fieldToForm),
    apply_action: spec.apply_action,
    message_field: spec.message_field ?? '',
    send_conversion: spec.send_conversion,
    template: spec.template ?? null,
  };
}

/** "paguei, comprovante ,, pix" → ["paguei", "comprovante", "pix"]. */
export function splitKeywords(value: string): string[] {
  return value
    .split(',')
    .map((word) => word.trim())
    .filter(Boolean);
}

/** A whole number, null when blank; a value that is not one stays as typed so the check below names it. */
function whole(value: string): number | null {
  const trimmed = value.trim();
  if (!trimmed) return null;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

function decimal(value: string): number | null {
  const trimmed = value.trim().replace(',', '.');
  if (!trimmed) return null;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : Number.NaN;
}

export function formToTrigger(form: TriggerForm): InsightTrigger {
  return {
    trigger_id: form.trigger_id,
    event: form.event,
    // Keywords apply only to a lead's new message.
    keywords: form.event === 'NEW_MESSAGE_RECEIVED' ? splitKeywords(form.keywords) : [],
    mode: form.mode,
    min_lead_messages: whole(form.min_lead_messages) ?? 0,
    max_per_conversation: whole(form.max_per_conversation),
    conversation_window_minutes: whole(form.conversation_window_minutes) ?? 60,
    max_per_day: whole(form.max_per_day),
  };
}

export function formToField(form: FieldForm): OutputField {
  return {
    name: form.name.trim(),
    type: form.type,
    description: form.description.trim(),
    required: form.required,
    // Options only for an enum, an item type only for an array, bounds only for a number (the server refuses the rest).
    options: form.type === 'enum' ? form.options.map((option) => option.trim()).filter(Boolean) : [],
    items: form.type === 'array' ? form.items : 'string',
    minimum: form.type === 'number' ? decimal(form.minimum) : null,
    maximum: form.type === 'number' ? decimal(form.maximum) : null,
  };
}

/** The POST/PUT body. */
export function formToSpec(form: BuilderForm): InsightAgentSpec {
  const fields = form.fields.map(formToField);
  const messageField = fields.some((field) => field.name === form.message_field && field.type === 'string') ? form.message_field : null;
  return {
    name: form.name.trim(),
    icon: form.icon.trim() || '✨',
    description: form.description.trim(),
    prompt: form.prompt.trim(),
    model: form.model,
    active: form.active,
    triggers: form.triggers.map(formToTrigger),
    fields,
    apply_action: form.apply_action,
    message_field: messageField,
    send_conversion: form.apply_action === 'mark_won' && form.send_conversion,
    template: form.template,
  };
}

/** The string fields with a name: what "campo com mensagem" may point at. */
export function messageFieldChoices(form: BuilderForm): string[] {
  return form.fields.filter((field) => field.type === 'string' && FIELD_NAME.test(field.name.trim())).map((field) => field.name.trim());
}

/**
 * Replace field `index`, keeping the message field in step: a renamed field takes it along; one that stops
 * being text (or is removed: `next` null) lets it go.
 */
export function changeField(form: BuilderForm, index: number, next: FieldForm | null): BuilderForm {
  const previous = form.fields[index];
  if (!previous) return form;
  let messageField = form.message_field;
  if (previous.name.trim() && previous.name.trim() === form.message_field) {
    if (next === null || next.type !== 'string') messageField = '';
    else messageField = next.name.trim();
  }
  const fields = next === null ? form.fields.filter((_, i) => i !== index) : form.fields.map((field, i) => (i === index ? next : field));
  return { ...form, fields, message_field: messageField };
}

export function moveField(form: BuilderForm, index: number, by: -1 | 1): BuilderForm {
  const target = index + by;
  if (target < 0 || target >= form.fields.length) return form;
  const fields = [...form.fields];
  [fields[index], fields[target]] = [fields[target]!, fields[index]!];
  return { ...form, fields };
}

/** Problems found before sending, keyed like the server's 422 details ("fields.1", "triggers.0"). */
export function checkForm(form: BuilderForm): Record<string, string[]> {
  const problems: Record<string, string[]> = {};
  const add = (path: string, reason: string) => (problems[path] ??= []).push(reason);
  if (!form.name.trim()) add('name', t.builder.requiredValue);
  if (!form.prompt.trim()) add('prompt', t.builder.requiredValue);
  if (!form.triggers.length) add('triggers', t.builder.needsTrigger);
  if (!form.fields.length) add('fields', t.builder.needsField);
  form.triggers.forEach((trigger, index) => {
    for (const value of [trigger.min_lead_messages, trigger.max_per_conversation, trigger.conversation_window_minutes, trigger.max_per_day]) {
      if (Number.isNaN(whole(value))) {
        add(`triggers.${index}`, t.builder.notWhole);
        break;
      }
    }
  });
  const names = form.fields.map((field) => field.name.trim());
  form.fields.forEach((field, index) => {
    const path = `fields.${index}`;
    const name = names[index]!;
    if (!FIELD_NAME.test(name)) add(path, t.builder.badFieldName);
    else if (names.indexOf(name) !== index) add(path, t.builder.repeatedFieldName(name));
    if (field.type === 'enum') {
      const options = field.options.map((option) => option.trim()).filter(Boolean);
      if (options.length < 2 || options.length > 20) add(path, t.builder.enumOptions);
      else if (new Set(options).size !== options.length) add(path, t.builder.repeatedOption);
    }
    if (field.type === 'number') {
      const minimum = decimal(field.minimum);
      const maximum = decimal(field.maximum);
      if (Number.isNaN(minimum) || Number.isNaN(maximum)) add(path, t.builder.notNumber);
      else if (minimum !== null && maximum !== null && minimum > maximum) add(path, t.builder.minAboveMax);
    }
  });
  return problems;
}
