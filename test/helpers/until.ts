/** Waits until cond holds (checked every `everyMs`), or throws after `ms`. Behaviour, never a timing assertion. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
