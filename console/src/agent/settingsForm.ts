// AgentSettings ⇄ the form's editable state (strings for inputs, rows for lists and maps).
import type { AgentMode, AgentSettings, Template } from '../api/types';
import type { KeyValueRow } from '../components/ListEditors';

export interface TemplateForm {
  enabled: boolean;
  name: string;
  language: string;
  parameters: string[];
}

export interface SettingsForm {
  mode: AgentMode;
  language: string;
  persona: string;
  instructions: string;
  businessFacts: KeyValueRow[];
  qualificationFields: string[];
  debounceSeconds: string;
  quietStart: string;
  quietEnd: string;
  followups: string[];
  maxUnanswered: string;
  humanTakeoverMinutes: string;
  optOutAcknowledgement: string;
  rejectionAcknowledgement: string;
  handoffAcknowledgement: string;
  followupTemplate: TemplateForm;
  reengagementTemplate: TemplateForm;
  /** copilot_promotion.threshold as a percentage ("80" for 0.8). */
  promotionThresholdPercent: string;
  promotionMinSamples: string;
  voiceReplies: boolean;
  voiceName: string;
}

function templateForm(template: Template | null | undefined): TemplateForm {
  return template
    ? { enabled: true, name: template.name, language: template.language, parameters: [...template.parameters] }
    : { enabled: false, name: '', language: 'pt_BR', parameters: [] };
}

/** 0.85 → "85" (at most two decimals, no float noise). */
export function percentText(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '';
  return String(Math.round(fraction * 10000) / 100);
}

/** "85" → 0.85; anything else goes as is, for the server to name the field. */
function fractionOrRaw(text: string): number {
  const value = numberOrRaw(text);
  return typeof value === 'number' ? Math.round(value * 100) / 10000 : value;
}

export function settingsToForm(settings: AgentSettings): SettingsForm {
  return {
    mode: settings.mode,
    language: settings.language ?? '',
    persona: settings.persona ?? '',
    instructions: settings.instructions ?? '',
    businessFacts: Object.entries(settings.business_facts ?? {}).map(([key, value]) => ({ key, value })),
    qualificationFields: [...(settings.qualification_fields ?? [])],
    debounceSeconds: String(settings.debounce_seconds ?? ''),
    quietStart: settings.quiet_hours?.start ?? '21:00:00',
    quietEnd: settings.quiet_hours?.end ?? '08:00:00',
    followups: [...(settings.followups ?? [])],
    maxUnanswered: String(settings.max_unanswered ?? ''),
    humanTakeoverMinutes: String(settings.human_takeover_minutes ?? ''),
    optOutAcknowledgement: settings.opt_out_acknowledgement ?? '',
    rejectionAcknowledgement: settings.rejection_acknowledgement ?? '',
    handoffAcknowledgement: settings.handoff_acknowledgement ?? '',
    followupTemplate: templateForm(settings.templates?.followup),
    reengagementTemplate: templateForm(settings.templates?.reengagement),
    promotionThresholdPercent: percentText(settings.copilot_promotion?.threshold),
    promotionMinSamples: String(settings.copilot_promotion?.min_samples ?? ''),
    voiceReplies: Boolean(settings.voice_replies),
    voiceName: settings.voice_name ?? '',
  };
}

/** "21:00" (what a time input gives) → "21:00:00". */
export function fullTime(value: string): string {
  return /^\d{2}:\d{2}$/.test(value) ? `${value}:00` : value;
}

/** A number input's text as a number; anything else goes as is, for the server to name the field. */
function numberOrRaw(text: string): number {
  const trimmed = text.trim();
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : (trimmed as unknown as number);
}

const nonEmpty = (values: string[]) => values.map((value) => value.trim()).filter(Boolean);
const textOrNull = (text: string) => (text.trim() ? text.trim() : null);

function formTemplate(template: TemplateForm): Template | null {
  if (!template.enabled) return null;
  return { name: template.name.trim(), language: template.language.trim(), parameters: nonEmpty(template.parameters) };
}

/** The PUT body: the form's values over what the server sent (fields this console does not know survive). */
export function formToSettings(form: SettingsForm, original: AgentSettings): AgentSettings {
  const businessFacts: Record<string, string> = {};
  for (const row of form.businessFacts) {
    if (!row.key.trim() && !row.value.trim()) continue;
    businessFacts[row.key.trim()] = row.value.trim();
  }
  return {
    ...original,
    mode: form.mode,
    language: form.language.trim(),
    persona: form.persona,
    instructions: form.instructions,
    business_facts: businessFacts,
    qualification_fields: nonEmpty(form.qualificationFields),
    debounce_seconds: numberOrRaw(form.debounceSeconds),
    quiet_hours: { start: fullTime(form.quietStart), end: fullTime(form.quietEnd) },
    followups: nonEmpty(form.followups),
    max_unanswered: numberOrRaw(form.maxUnanswered),
    human_takeover_minutes: numberOrRaw(form.humanTakeoverMinutes),
    opt_out_acknowledgement: textOrNull(form.optOutAcknowledgement),
    rejection_acknowledgement: textOrNull(form.rejectionAcknowledgement),
    handoff_acknowledgement: textOrNull(form.handoffAcknowledgement),
    templates: {
      ...original.templates,
      followup: formTemplate(form.followupTemplate),
      reengagement: formTemplate(form.reengagementTemplate),
    },
    copilot_promotion: {
      ...original.copilot_promotion,
      threshold: fractionOrRaw(form.promotionThresholdPercent),
      min_samples: numberOrRaw(form.promotionMinSamples),
    },
    voice_replies: form.voiceReplies,
    voice_name: textOrNull(form.voiceName),
  };
}
