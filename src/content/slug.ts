/** README, "Import format": lower case, every run of characters other than a-z0-9 becomes one `-`, trimmed of `-`. */
export function topicSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
