import { z } from 'zod';
import type { Topic } from '../src/content/types.js';

// Shared parsing of the sign-up and preferences forms (zod at the edge) and the topic checkbox model.

export const MAX_NAME_LENGTH = 100;

const fieldText = z.string().max(2000);

/** What the forms may send; anything else is ignored. Repeated checkboxes arrive as an array. */
export const subscriberFormSchema = z.object({
  email: fieldText.optional(),
  name: fieldText.optional(),
  topics: z.union([z.string().max(200), z.array(z.string().max(200)).max(200)]).optional(),
  action: z.string().max(40).optional(),
});

export type SubscriberForm = z.infer<typeof subscriberFormSchema>;

export function readForm(body: unknown): SubscriberForm | null {
  const parsed = subscriberFormSchema.safeParse(body ?? {});
  return parsed.success ? parsed.data : null;
}

/** Trimmed, control characters and line breaks removed (names end up in mail headers and CSV). */
export function cleanName(raw: string | undefined): string {
  return (
    (raw ?? '')
      // eslint-disable-next-line no-control-regex -- control characters are what this removes
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

export function topicList(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return [...new Set(list.map((s) => s.trim()).filter((s) => s !== ''))];
}

export interface TopicChoice {
  slug: string;
  name: string;
  description: string;
  checked: boolean;
  inputId: string;
  descriptionId: string;
}

export function topicChoices(topics: readonly Topic[], selected: readonly string[]): TopicChoice[] {
  const chosen = new Set(selected);
  return topics.map((t) => ({
    slug: t.slug,
    name: t.name,
    description: t.description,
    checked: chosen.has(t.slug),
    inputId: `topic-${t.slug}`,
    descriptionId: `topic-${t.slug}-description`,
  }));
}

export interface FieldError {
  field: string;
  message: string;
}
