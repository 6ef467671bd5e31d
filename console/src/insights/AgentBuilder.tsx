// The builder: an insight agent's name and directive, its triggers with throttles, its output fields, and what
// applying one of its insights does. Checked here before saving; the server's 422 reasons show beside the fields.
import { type FormEvent, type ReactNode, useState } from 'react';
import {
  APPLY_ACTIONS,
  ARRAY_ITEM_TYPES,
  type ApplyAction,
  type ArrayItemType,
  FIELD_TYPES,
  type FieldType,
  INSIGHT_EVENTS,
  type InsightAgentSpec,
  type InsightEventType,
  type InsightModel,
  MAX_INSIGHT_FIELDS,
  MAX_INSIGHT_TRIGGERS,
  TRIGGER_MODES,
  type TriggerMode,
} from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { StringListEditor } from '../components/ListEditors';
import { fieldErrors } from '../i18n/format';
import {
  applyActionNames,
  arrayItemNames,
  fieldTypeNames,
  insightEventNames,
  insightModelNames,
  t,
  triggerModeNames,
} from '../i18n/pt-BR';
import {
  type BuilderForm,
  type FieldForm,
  type TriggerForm,
  changeField,
  checkForm,
  formToSpec,
  messageFieldChoices,
  moveField,
  newField,
  newTrigger,
} from './builderForm';

const PLACED_FIELDS = [
  'name',
  'icon',
  'description',
  'prompt',
  'model',
  'active',
  'triggers',
  'fields',
  'apply_action',
  'message_field',
  'send_conversion',
];

type Errors = Record<string, string[]>;

/** Only the reasons for `field` itself (its rows show their own). */
const only = (errors: Errors, field: string): Errors => ({ [field]: errors[field] ?? [] });

function Field({ label, help, field, errors, children }: { label: string; help?: string; field: string; errors: Errors; children: ReactNode }) {
  return (
    <div className={`form-field${errors[field] ? ' invalid' : ''}`}>
      <label>
        <span className="label">{label}</span>
        {children}
      </label>
      {help ? <div className="muted small">{help}</div> : null}
      <FieldErrors errors={errors} field={field} />
    </div>
  );
}

function TriggerRow({
  trigger,
  index,
  errors,
  onChange,
  onRemove,
}: {
  trigger: TriggerForm;
  index: number;
  errors: Errors;
  onChange: (trigger: TriggerForm) => void;
  onRemove: () => void;
}) {
  const set = (patch: Partial<TriggerForm>) => onChange({ ...trigger, ...patch });
  const path = `triggers.${index}`;
  return (
    <fieldset className={`builder-row${errors[path] ? ' invalid' : ''}`} data-testid="trigger" data-index={index} data-event={trigger.event}>
      <legend>{t.builder.trigger(index + 1)}</legend>
      <div className="builder-grid">
        <label>
          {t.builder.event}
          <select value={trigger.event} onChange={(event) => set({ event: event.target.value as InsightEventType })} data-testid="trigger-event">
            {INSIGHT_EVENTS.map((value) => (
              <option key={value} value={value}>
                {insightEventNames[value]}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t.builder.mode}
          <select value={trigger.mode} onChange={(event) => set({ mode: event.target.value as TriggerMode })} data-testid="trigger-mode">
            {TRIGGER_MODES.map((value) => (
              <option key={value} value={value}>
                {triggerModeNames[value]}
              </option>
            ))}
          </select>
        </label>
        {trigger.event === 'NEW_MESSAGE_RECEIVED' ? (
          <label className="wide">
            {t.builder.keywords}
            <input value={trigger.keywords} placeholder="paguei, comprovante, pix" onChange={(event) => set({ keywords: event.target.value })} data-testid="trigger-keywords" />
            <span className="muted small">{t.builder.keywordsHelp}</span>
          </label>
        ) : null}
        <label>
          {t.builder.minLeadMessages}
          <input type="number" min={0} max={1000} value={trigger.min_lead_messages} onChange={(event) => set({ min_lead_messages: event.target.value })} data-testid="trigger-min-lead-messages" />
        </label>
        <label>
          {t.builder.maxPerConversation}
          <input
            type="number"
            min={1}
            max={1000}
            placeholder={t.builder.noLimit}
            value={trigger.max_per_conversation}
            onChange={(event) => set({ max_per_conversation: event.target.value })}
            data-testid="trigger-max-per-conversation"
          />
        </label>
        <label>
          {t.builder.window}
          <input
            type="number"
            min={1}
            max={43200}
            value={trigger.conversation_window_minutes}
            onChange={(event) => set({ conversation_window_minutes: event.target.value })}
            data-testid="trigger-window"
          />
        </label>
        <label>
          {t.builder.maxPerDay}
          <input
            type="number"
            min={1}
            max={100000}
            placeholder={t.builder.noLimit}
            value={trigger.max_per_day}
            onChange={(event) => set({ max_per_day: event.target.value })}
            data-testid="trigger-max-per-day"
          />
        </label>
      </div>
      <FieldErrors errors={errors} field={path} />
      <button type="button" className="link danger" onClick={onRemove} data-testid="trigger-remove">
        {t.builder.removeTrigger}
      </button>
    </fieldset>
  );
}

function FieldRow({
  field,
  index,
  count,
  errors,
  onChange,
  onRemove,
  onMove,
}: {
  field: FieldForm;
  index: number;
  count: number;
  errors: Errors;
  onChange: (field: FieldForm) => void;
  onRemove: () => void;
  onMove: (by: -1 | 1) => void;
}) {
  const set = (patch: Partial<FieldForm>) => onChange({ ...field, ...patch });
  const path = `fields.${index}`;
  return (
    <fieldset className={`builder-row${errors[path] ? ' invalid' : ''}`} data-testid="output-field" data-index={index} data-type={field.type}>
      <legend>{t.builder.field(index + 1)}</legend>
      <div className="builder-grid">
        <label>
          {t.builder.fieldName}
          <input
            value={field.name}
            maxLength={40}
            placeholder="nota_empatia"
            aria-invalid={Boolean(errors[path]) || undefined}
            onChange={(event) => set({ name: event.target.value })}
            data-testid="field-name"
          />
        </label>
        <label>
          {t.builder.fieldType}
          <select value={field.type} onChange={(event) => set({ type: event.target.value as FieldType })} data-testid="field-type">
            {FIELD_TYPES.map((value) => (
              <option key={value} value={value}>
                {fieldTypeNames[value]}
              </option>
            ))}
          </select>
        </label>
        <label className="wide">
          {t.builder.fieldDescription}
          <input value={field.description} maxLength={500} onChange={(event) => set({ description: event.target.value })} data-testid="field-description" />
        </label>
        <label className="checkbox">
          <input type="checkbox" checked={field.required} onChange={(event) => set({ required: event.target.checked })} data-testid="field-required" />
          {t.builder.fieldRequired}
        </label>
        {field.type === 'array' ? (
          <label>
            {t.builder.items}
            <select value={field.items} onChange={(event) => set({ items: event.target.value as ArrayItemType })} data-testid="field-items">
              {ARRAY_ITEM_TYPES.map((value) => (
                <option key={value} value={value}>
                  {arrayItemNames[value]}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {field.type === 'number' ? (
          <>
            <label>
              {t.builder.minimum}
              <input inputMode="decimal" value={field.minimum} onChange={(event) => set({ minimum: event.target.value })} data-testid="field-minimum" />
            </label>
            <label>
              {t.builder.maximum}
              <input inputMode="decimal" value={field.maximum} onChange={(event) => set({ maximum: event.target.value })} data-testid="field-maximum" />
            </label>
          </>
        ) : null}
      </div>
      {field.type === 'enum' ? (
        <div className="builder-options">
          <div className="label">{t.builder.options}</div>
          <StringListEditor values={field.options} onChange={(options) => set({ options })} testId="field-options" addLabel={t.builder.addOption} />
        </div>
      ) : null}
      <FieldErrors errors={errors} field={path} />
      <div className="row-actions">
        <button type="button" className="link" disabled={index === 0} onClick={() => onMove(-1)} data-testid="field-up">
          ↑ {t.builder.moveUp}
        </button>
        <button type="button" className="link" disabled={index === count - 1} onClick={() => onMove(1)} data-testid="field-down">
          ↓ {t.builder.moveDown}
        </button>
        <button type="button" className="link danger" onClick={onRemove} data-testid="field-remove">
          {t.builder.removeField}
        </button>
      </div>
    </fieldset>
  );
}

export function AgentBuilder({
  initial,
  title,
  note,
  onSave,
  onDelete,
  onCancel,
}: {
  initial: BuilderForm;
  title: string;
  /** A line above the form (e.g. "added from the library"). */
  note?: string | null;
  onSave: (spec: InsightAgentSpec) => Promise<unknown>;
  /** Editing an existing agent: offer to delete it. */
  onDelete?: () => Promise<unknown>;
  onCancel: () => void;
}) {
  const [form, setForm] = useState<BuilderForm>(initial);
  const [problems, setProblems] = useState<Errors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const errors: Errors = { ...fieldErrors(error), ...problems };
  const set = (patch: Partial<BuilderForm>) => setForm((previous) => ({ ...previous, ...patch }));
  const choices = messageFieldChoices(form);

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = checkForm(form);
    setProblems(found);
    setError(null);
    if (Object.keys(found).length) return;
    void run(() => onSave(formToSpec(form)));
  }

  return (
    <form className="card settings-form builder" onSubmit={submit} aria-label={title} data-testid="builder-form" noValidate>
      <h1>{title}</h1>
      {note ? (
        <p className="ok-note" data-testid="builder-note">
          {note}
        </p>
      ) : null}

      <h2>{t.builder.identity}</h2>
      <div className="builder-identity">
        <Field label={t.builder.icon} field="icon" errors={errors}>
          <input className="icon-input" value={form.icon} maxLength={16} onChange={(event) => set({ icon: event.target.value })} data-testid="builder-icon" />
        </Field>
        <Field label={t.builder.name} field="name" errors={errors}>
          <input value={form.name} maxLength={60} required onChange={(event) => set({ name: event.target.value })} data-testid="builder-name" />
        </Field>
      </div>
      <Field label={t.builder.description} field="description" errors={errors}>
        <input value={form.description} maxLength={300} onChange={(event) => set({ description: event.target.value })} data-testid="builder-description" />
      </Field>
      <Field label={t.builder.prompt} help={t.builder.promptHelp} field="prompt" errors={errors}>
        <textarea rows={8} maxLength={6000} value={form.prompt} onChange={(event) => set({ prompt: event.target.value })} data-testid="builder-prompt" />
      </Field>
      <div className="row-inputs">
        <Field label={t.builder.model} help={t.builder.modelHelp} field="model" errors={errors}>
          <select value={form.model} onChange={(event) => set({ model: event.target.value as InsightModel })} data-testid="builder-model">
            {(['fast', 'precise'] as const).map((value) => (
              <option key={value} value={value}>
                {insightModelNames[value]}
              </option>
            ))}
          </select>
        </Field>
        <label className="checkbox">
          <input type="checkbox" checked={form.active} onChange={(event) => set({ active: event.target.checked })} data-testid="builder-active" />
          {t.builder.active}
        </label>
      </div>

      <h2>{t.builder.triggers}</h2>
      <p className="muted small">{t.builder.triggersHelp}</p>
      <FieldErrors errors={only(errors, 'triggers')} field="triggers" />
      {form.triggers.map((trigger, index) => (
        <TriggerRow
          key={trigger.key}
          trigger={trigger}
          index={index}
          errors={errors}
          onChange={(next) => set({ triggers: form.triggers.map((old, i) => (i === index ? next : old)) })}
          onRemove={() => set({ triggers: form.triggers.filter((_, i) => i !== index) })}
        />
      ))}
      {form.triggers.length < MAX_INSIGHT_TRIGGERS ? (
        <button type="button" className="link" onClick={() => set({ triggers: [...form.triggers, newTrigger()] })} data-testid="trigger-add">
          + {t.builder.addTrigger}
        </button>
      ) : null}

      <h2>{t.builder.fields}</h2>
      <p className="muted small">{t.builder.fieldsHelp}</p>
      <FieldErrors errors={only(errors, 'fields')} field="fields" />
      {form.fields.map((field, index) => (
        <FieldRow
          key={field.key}
          field={field}
          index={index}
          count={form.fields.length}
          errors={errors}
          onChange={(next) => setForm((previous) => changeField(previous, index, next))}
          onRemove={() => setForm((previous) => changeField(previous, index, null))}
          onMove={(by) => setForm((previous) => moveField(previous, index, by))}
        />
      ))}
      {form.fields.length < MAX_INSIGHT_FIELDS ? (
        <button type="button" className="link" onClick={() => set({ fields: [...form.fields, newField()] })} data-testid="field-add">
          + {t.builder.addField}
        </button>
      ) : null}

      <h2>{t.builder.apply}</h2>
      <Field label={t.builder.applyAction} field="apply_action" errors={errors}>
        <select
          value={form.apply_action}
          onChange={(event) => {
            const action = event.target.value as ApplyAction;
            set({ apply_action: action, send_conversion: action === 'mark_won' ? form.send_conversion : false });
          }}
          data-testid="builder-apply-action"
        >
          {APPLY_ACTIONS.map((value) => (
            <option key={value} value={value}>
              {applyActionNames[value]}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t.builder.messageField} help={t.builder.messageFieldHelp} field="message_field" errors={errors}>
        <select value={choices.includes(form.message_field) ? form.message_field : ''} onChange={(event) => set({ message_field: event.target.value })} data-testid="builder-message-field">
          <option value="">{t.builder.messageFieldNone}</option>
          {choices.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </Field>
      {form.apply_action === 'mark_won' ? (
        <div className="form-field">
          <label className="checkbox">
            <input type="checkbox" checked={form.send_conversion} onChange={(event) => set({ send_conversion: event.target.checked })} data-testid="builder-send-conversion" />
            {t.builder.sendConversion}
          </label>
          <div className="muted small">{t.builder.sendConversionHelp}</div>
          <FieldErrors errors={errors} field="send_conversion" />
        </div>
      ) : null}

      <ErrorBanner error={error} placedFields={PLACED_FIELDS} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="builder-save">
          {busy ? t.saving : t.builder.save}
        </button>
        <button type="button" disabled={busy} onClick={onCancel} data-testid="builder-cancel">
          {t.cancel}
        </button>
        {onDelete ? (
          <button
            type="button"
            className="link danger push-right"
            disabled={busy}
            onClick={() => {
              if (window.confirm(t.builder.confirmDelete(form.name || initial.name))) void run(onDelete);
            }}
            data-testid="builder-delete"
          >
            {t.builder.delete}
          </button>
        ) : null}
      </div>
    </form>
  );
}
