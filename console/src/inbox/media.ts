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

export function mediaKind(message: Pick<Message, 'text'>): MediaKind {
  const label = /^\[([a-z_]+)\]/i.exec(message.text.trim())?.[1]?.toLowerCase();
  return (label && LABELS[label]) || 'other';
}
