// Insight agents and insights in words: a trigger's summary, and a payload value shown by its field's type.
import type { InsightTrigger, OutputField } from '../api/types';
import { insightEventNames, locale, t } from '../i18n/pt-BR';

/** "Nova mensagem do lead com “paguei”, “comprovante” · no máximo 1 vez por conversa a cada 1 h · até 50 por dia". */
export function triggerSummary(trigger: InsightTrigger): string {
  const head = [insightEventNames[trigger.event] ?? trigger.event];
  if (trigger.event === 'NEW_MESSAGE_RECEIVED' && trigger.keywords.length) head.push(t.insightAgents.keywordsSummary(trigger.keywords));
  const parts = [head.join(' ')];
  if (trigger.mode !== 'any') parts.push(t.insightAgents.modeSummary[trigger.mode]);
  if (trigger.min_lead_messages > 0) parts.push(t.insightAgents.minLeadMessagesSummary(trigger.min_lead_messages));
  if (trigger.max_per_conversation) parts.push(t.insightAgents.perConversationSummary(trigger.max_per_conversation, trigger.conversation_window_minutes));
  if (trigger.max_per_day) parts.push(t.insightAgents.perDaySummary(trigger.max_per_day));
  return parts.join(' · ');
}

/** A field's label on an insight: its description, else its name. */
export function fieldLabel(field: Pick<OutputField, 'name' | 'description'>): string {
  return field.description?.trim() || field.name;
}

const numberFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });

/** One scalar in pt-BR: Sim/Não, 7,5, text; nothing → "—". */
export function scalarText(value: unknown): string {
  if (value === null || value === undefined || value === '') return t.insights.noValue;
  if (typeof value === 'boolean') return value ? t.yes : t.no;
  if (typeof value === 'number') return numberFormat.format(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The text of the insight's message field, if it has one worth putting in the composer. */
export function messageText(payload: Record<string, unknown>, messageField: string | null): string | null {
  if (!messageField) return null;
  const value = payload[messageField];
  return typeof value === 'string' && value.trim() ? value : null;
}
