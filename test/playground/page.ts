import type { BrowserContext, Locator, Page } from 'playwright-core';

/** Driving the playground page as a user does: through its labelled controls. */

/**
 * Opens the page at the server's root (which redirects to /playground/), enters the key if one
 * is given, and waits for the model list.
 */
export async function openPlayground(context: BrowserContext, url: string, key?: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}/`);
  if (key !== undefined) {
    await page.getByLabel('API key').fill(key);
    await page.getByLabel('API key').press('Enter');
  }
  await page.locator('#model option').first().waitFor({ state: 'attached' });
  return page;
}

/**
 * Sets form fields by name (`''` clears one). `mode` picks the thinking mode; `compare` turns the
 * compare view on with that second mode (`''`: off).
 */
export async function setSettings(page: Page, settings: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(settings)) {
    if (name === 'mode') {
      await page.getByLabel('Mode', { exact: true }).selectOption(value);
    } else if (name === 'compare') {
      await page.getByLabel('Run the same question in a second mode').setChecked(value !== '');
      if (value) await page.getByLabel('Second mode', { exact: true }).selectOption(value);
    } else {
      const field = page.locator(`#settings [name="${name}"]`);
      if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
      else await field.fill(value);
    }
  }
}

/** The statuses a run ends with. */
export const ENDED = ['done', 'cancelled', 'error'];

/**
 * Sets `settings`, sends `text` with Enter, and (unless `wait` is false) waits until every run of
 * the new turn has ended. Returns the turn.
 */
export async function ask(
  page: Page,
  text: string,
  settings: Record<string, string> = {},
  wait = true,
): Promise<Locator> {
  await setSettings(page, settings);
  const turns = await page.locator('.turn').count();
  await page.getByLabel('Message').fill(text);
  await page.getByLabel('Message').press('Enter');
  const turn = page.locator('.turn').nth(turns);
  await turn.waitFor();
  if (wait) {
    const running = ENDED.map((status) => `:not([data-status="${status}"])`).join('');
    await turn.locator(`.run${running}`).first().waitFor({ state: 'detached', timeout: 60_000 });
  }
  return turn;
}
