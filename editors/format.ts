/** "Tue 3 Nov 2020, 09:30 (Europe/Brussels)": editors read times in the service's zone. */
export function formatTime(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(date);
  return `${text} (${timeZone})`;
}

export function formatCount(n: number): string {
  return new Intl.NumberFormat('en-GB').format(n);
}
