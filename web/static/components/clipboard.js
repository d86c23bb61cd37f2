// Copying a shown secret (a token) to the clipboard from its read-only input.
import { t } from '../i18n.js';

/** Copy the input's value; throws an Error with a translated message when the browser refuses. */
export async function copyText(input) {
  // navigator.clipboard exists only in secure contexts; a hub reached by its LAN address over plain HTTP is not one.
  if (globalThis.isSecureContext && navigator.clipboard) {
    await navigator.clipboard.writeText(input.value);
    return;
  }
  input.select();
  if (!document.execCommand('copy')) throw new Error(t('tokens.copy_failed'));
}
