// Every AgentSettings field; PUT saves, and the server's validation errors show beside their fields.
import { type FormEvent, type ReactNode, useState } from 'react';
import type { AgentSettings } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { KeyValueEditor, StringListEditor } from '../components/ListEditors';
import { fieldErrors } from '../i18n/format';
import { intentNames, t } from '../i18n/pt-BR';
import { type SettingsForm, type TemplateForm, formToSettings, settingsToForm } from './settingsForm';

const PLACED_FIELDS = [
  'mode',
  'language',
  'persona',
  'instructions',
  'business_facts',
  'qualification_fields',
  'debounce_seconds',
  'quiet_hours',
  'followups',
  'max_unanswered',
  'human_takeover_minutes',
  'opt_out_acknowledgement',
  'rejection_acknowledgement',
  'handoff_acknowledgement',
  'templates.followup',
  'templates.reengagement',
  'pilot_intents',
  'copilot_promotion',
  'voice_replies',
  'voice_name',
];

function Field({ label, help, field, errors, children }: { label: string; help?: string; field: string; errors: Record<string, string[]>; children: ReactNode }) {
  return (
    <div className={`form-field${errors[field] ? ' invalid' : ''}`}>
      <div className="label">{label}</div>
      {children}
      {help ? <div className="muted small">{help}</div> : null}
      <FieldErrors errors={errors} field={field} />
    </div>
  );
}

export function AgentForm({
  initial,
  readOnly,
  onSave,
}: {
  initial: AgentSettings;
  readOnly: boolean;
  onSave: (settings: AgentSettings) => Promise<AgentSettings>;
}) {
  const [original, setOriginal] = useState(initial);
  const [form, setForm] = useState<SettingsForm>(() => settingsToForm(initial));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const errors = fieldErrors(error);
  // A list row the server refused: "followups.3" (or anything under it) marks row 3 of followups.
  const rowInvalid = (field: string) => (index: number) =>
    Object.keys(errors).some((key) => key === `${field}.${index}` || key.startsWith(`${field}.${index}.`));
  const set = (patch: Partial<SettingsForm>) => {
    setSaved(false);
    setForm((previous) => ({ ...previous, ...patch }));
  };

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const stored = await onSave(formToSettings(form, original));
      setOriginal(stored);
      setForm(settingsToForm(stored));
      setSaved(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const template = (key: 'followupTemplate' | 'reengagementTemplate', field: string, label: string) => {
    const value = form[key];
    const update = (patch: Partial<TemplateForm>) => set({ [key]: { ...value, ...patch } } as Partial<SettingsForm>);
    const prefix = `agent-${field.replace('.', '-')}`;
    return (
      <fieldset className="template" data-testid={prefix}>
        <legend>{label}</legend>
        <label className="checkbox">
          <input type="checkbox" checked={value.enabled} disabled={readOnly} onChange={(event) => update({ enabled: event.target.checked })} data-testid={`${prefix}-enabled`} />
          {t.agent.templateEnabled}
        </label>
        {value.enabled ? (
          <>
            <label>
              {t.agent.templateName}
              <input value={value.name} disabled={readOnly} onChange={(event) => update({ name: event.target.value })} data-testid={`${prefix}-name`} />
            </label>
            <label>
              {t.agent.templateLanguage}
              <input value={value.language} disabled={readOnly} onChange={(event) => update({ language: event.target.value })} data-testid={`${prefix}-language`} />
            </label>
            <div className="label">{t.agent.templateParameters}</div>
            <StringListEditor
              values={value.parameters}
              onChange={(parameters) => update({ parameters })}
              testId={`${prefix}-parameters`}
              addLabel={t.agent.addParameter}
              disabled={readOnly}
              invalidRow={rowInvalid(`${field}.parameters`)}
            />
          </>
        ) : null}
        <FieldErrors errors={errors} field={field} />
      </fieldset>
    );
  };

  return (
    <form className="settings-form" onSubmit={(event) => void submit(event)} data-testid="agent-form">
      {readOnly ? <p className="muted">{t.agent.readOnly}</p> : null}
      <fieldset disabled={readOnly} className="plain-fieldset">
        <Field label={t.agent.mode} field="mode" errors={errors}>
          <label className="radio">
            <input type="radio" name="mode" checked={form.mode === 'pilot'} onChange={() => set({ mode: 'pilot' })} data-testid="agent-mode-pilot" />
            {t.agent.modePilot}
          </label>
          <label className="radio">
            <input type="radio" name="mode" checked={form.mode === 'copilot'} onChange={() => set({ mode: 'copilot' })} data-testid="agent-mode-copilot" />
            {t.agent.modeCopilot}
          </label>
        </Field>
        <Field label={t.agent.pilotIntents} help={t.agent.pilotIntentsHelp} field="pilot_intents" errors={errors}>
          <div data-testid="agent-pilot-intents" data-value={(original.pilot_intents ?? []).join(',')}>
            {form.mode === 'pilot' ? (
              <span className="muted">{t.agent.allIntentsPilot}</span>
            ) : original.pilot_intents?.length ? (
              original.pilot_intents.map((intent) => (
                <span key={intent} className="badge badge-ok">
                  {(intentNames as Record<string, string>)[intent] ?? intent}
                </span>
              ))
            ) : (
              <span className="muted">{t.agent.noPilotIntents}</span>
            )}
          </div>
        </Field>
        <Field label={t.agent.promotion} help={t.agent.promotionHelp} field="copilot_promotion" errors={errors}>
          <div className="row-inputs">
            <label className="inline">
              {t.agent.promotionThreshold}
              <input
                type="number"
                min={0}
                max={100}
                step="any"
                value={form.promotionThresholdPercent}
                onChange={(event) => set({ promotionThresholdPercent: event.target.value })}
                data-testid="agent-promotion-threshold"
              />
            </label>
            <label className="inline">
              {t.agent.promotionMinSamples}
              <input
                type="number"
                min={5}
                value={form.promotionMinSamples}
                onChange={(event) => set({ promotionMinSamples: event.target.value })}
                data-testid="agent-promotion-min-samples"
              />
            </label>
          </div>
        </Field>
        <Field label={t.agent.language} field="language" errors={errors}>
          <input value={form.language} onChange={(event) => set({ language: event.target.value })} data-testid="agent-language" />
        </Field>
        <Field label={t.agent.persona} help={t.agent.personaHelp} field="persona" errors={errors}>
          <textarea rows={3} value={form.persona} onChange={(event) => set({ persona: event.target.value })} data-testid="agent-persona" />
        </Field>
        <Field label={t.agent.instructions} field="instructions" errors={errors}>
          <textarea rows={5} value={form.instructions} onChange={(event) => set({ instructions: event.target.value })} data-testid="agent-instructions" />
        </Field>
        <Field label={t.agent.businessFacts} field="business_facts" errors={errors}>
          <KeyValueEditor
            rows={form.businessFacts}
            onChange={(businessFacts) => set({ businessFacts })}
            testId="agent-business-facts"
            keyLabel={t.agent.factKey}
            valueLabel={t.agent.factValue}
            addLabel={t.agent.addFact}
            disabled={readOnly}
          />
        </Field>
        <Field label={t.agent.qualificationFields} field="qualification_fields" errors={errors}>
          <StringListEditor
            values={form.qualificationFields}
            onChange={(qualificationFields) => set({ qualificationFields })}
            testId="agent-qualification-fields"
            addLabel={t.agent.addQualificationField}
            disabled={readOnly}
            invalidRow={rowInvalid('qualification_fields')}
          />
        </Field>
        <Field label={t.agent.debounce} help={t.agent.debounceHelp} field="debounce_seconds" errors={errors}>
          <input type="number" min={0} max={300} value={form.debounceSeconds} onChange={(event) => set({ debounceSeconds: event.target.value })} data-testid="agent-debounce-seconds" />
        </Field>
        <Field label={t.agent.quietHours} help={t.agent.quietHoursHelp} field="quiet_hours" errors={errors}>
          <div className="row-inputs">
            <label className="inline">
              {t.agent.quietStart}
              <input type="time" step={1} value={form.quietStart} onChange={(event) => set({ quietStart: event.target.value })} data-testid="agent-quiet-start" />
            </label>
            <label className="inline">
              {t.agent.quietEnd}
              <input type="time" step={1} value={form.quietEnd} onChange={(event) => set({ quietEnd: event.target.value })} data-testid="agent-quiet-end" />
            </label>
          </div>
        </Field>
        <Field label={t.agent.followups} help={t.agent.followupsHelp} field="followups" errors={errors}>
          <StringListEditor
            values={form.followups}
            onChange={(followups) => set({ followups })}
            testId="agent-followups"
            addLabel={t.agent.addFollowup}
            placeholder="1d"
            disabled={readOnly}
            invalidRow={rowInvalid('followups')}
          />
        </Field>
        <Field label={t.agent.maxUnanswered} field="max_unanswered" errors={errors}>
          <input type="number" min={1} max={20} value={form.maxUnanswered} onChange={(event) => set({ maxUnanswered: event.target.value })} data-testid="agent-max-unanswered" />
        </Field>
        <Field label={t.agent.humanTakeover} help={t.agent.humanTakeoverHelp} field="human_takeover_minutes" errors={errors}>
          <input type="number" min={0} value={form.humanTakeoverMinutes} onChange={(event) => set({ humanTakeoverMinutes: event.target.value })} data-testid="agent-human-takeover-minutes" />
        </Field>
        <Field label={t.agent.audio} help={t.agent.voiceRepliesHelp} field="voice_replies" errors={errors}>
          <label className="checkbox">
            <input type="checkbox" checked={form.voiceReplies} onChange={(event) => set({ voiceReplies: event.target.checked })} data-testid="agent-voice-replies" />
            {t.agent.voiceReplies}
          </label>
        </Field>
        {form.voiceReplies ? (
          <Field label={t.agent.voiceName} help={t.agent.voiceNameHelp} field="voice_name" errors={errors}>
            <input value={form.voiceName} placeholder="pt-BR-Neural2-B" onChange={(event) => set({ voiceName: event.target.value })} data-testid="agent-voice-name" />
          </Field>
        ) : null}
        <h2>{t.agent.acknowledgements}</h2>
        <p className="muted small">{t.agent.ackHelp}</p>
        <Field label={t.agent.optOutAck} field="opt_out_acknowledgement" errors={errors}>
          <textarea rows={2} value={form.optOutAcknowledgement} onChange={(event) => set({ optOutAcknowledgement: event.target.value })} data-testid="agent-opt-out-acknowledgement" />
        </Field>
        <Field label={t.agent.rejectionAck} field="rejection_acknowledgement" errors={errors}>
          <textarea rows={2} value={form.rejectionAcknowledgement} onChange={(event) => set({ rejectionAcknowledgement: event.target.value })} data-testid="agent-rejection-acknowledgement" />
        </Field>
        <Field label={t.agent.handoffAck} field="handoff_acknowledgement" errors={errors}>
          <textarea rows={2} value={form.handoffAcknowledgement} onChange={(event) => set({ handoffAcknowledgement: event.target.value })} data-testid="agent-handoff-acknowledgement" />
        </Field>
        <h2>{t.agent.templates}</h2>
        {template('followupTemplate', 'templates.followup', t.agent.templateFollowup)}
        {template('reengagementTemplate', 'templates.reengagement', t.agent.templateReengagement)}
      </fieldset>
      <ErrorBanner error={error} placedFields={PLACED_FIELDS} />
      {!readOnly ? (
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy} data-testid="agent-save">
            {busy ? t.saving : t.save}
          </button>
          {saved ? (
            <span className="ok" data-testid="agent-saved">
              {t.saved}
            </span>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}
