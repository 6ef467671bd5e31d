// What kind of media a message carries, from the label the API writes for it ("[audio]", "[document] exame.pdf").
import type { Message } from '../api/types';

export type MediaKind = 'audio' | 'document' | 'image' | 'video' | 'other';

const LABELS: Record<string, MediaKind> = {
  audio: 'audio',
  voice: 'audio',
  ptt: 'audio',
  document: 'document',
  image: 'image',
  sticker: 'image',
  video: 'video',
};

const LABEL = /^\[([a-z_]+)\]/i;

export function mediaKind(message: Pick<Message, 'text'>): MediaKind {
  const label = LABEL.exec(message.text.trim())?.[1]?.toLowerCase();
  return (label && LABELS[label]) || 'other';
}

/** "[audio]" → "[Áudio]", "[document] exame" → "[Documento] exame": the API's type label in Portuguese. */
export function localizedMessageText(text: string, names: Record<string, string>): string {
  const match = LABEL.exec(text);
  const name = match?.[1] ? names[match[1].toLowerCase()] : undefined;
  return match && name ? `[${name}]${text.slice(match[0].length)}` : text;
}
