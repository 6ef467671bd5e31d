// The Integrações page's logic: an endpoint's state badge, event labels, the new-endpoint body, and the CRM's
// stage mapping body.
import type { CrmPipeline, WebhookEndpoint, WebhookInput } from '../api/types';
import { eventTypeNames, t } from '../i18n/pt-BR';

export type EndpointState = 'succeeded' | 'failed' | 'retrying' | 'none' | 'disabled';

/** What an endpoint's badge says: disabled wins, then its last delivery's status, else "Sem entregas ainda". */
export function endpointState(endpoint: WebhookEndpoint): EndpointState {
  if (!endpoint.enabled) return 'disabled';
  return endpoint.last_delivery?.status ?? 'none';
}

export function endpointStateText(endpoint: WebhookEndpoint): string {
  const state = endpointState(endpoint);
  return state === 'disabled' ? t.integrations.disabled : t.integrations.lastStatus[state];
}

/** An event type in Portuguese: ours first, then the server's label, then the type itself. */
export function eventLabel(type: string, serverLabels: Record<string, string> = {}): string {
  return eventTypeNames[type] ?? serverLabels[type] ?? type;
}

/** The POST webhooks body, or the problem to show (the API checks the URL's scheme and host). */
export function webhookInput(form: { url: string; description: string; events: string[] }): WebhookInput | { problem: string } {
  if (!form.events.length) return { problem: t.integrations.eventsNeeded };
  const description = form.description.trim();
  return { url: form.url.trim(), ...(description ? { description } : {}), events: [...form.events] };
}

/** Keep only the mappings that point to a stage of the chosen pipeline ("" = do not move). */
export function mappingFor(pipeline: CrmPipeline | undefined, mapping: Record<string, string>): Record<string, string> {
  if (!pipeline) return {};
  const stages = new Set(pipeline.stages.map((stage) => stage.id));
  return Object.fromEntries(Object.entries(mapping).filter(([, stageId]) => stageId && stages.has(stageId)));
}

/** Copy to the clipboard; false when the browser refuses (the text stays on screen to copy by hand). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
