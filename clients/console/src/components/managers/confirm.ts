// confirm: the gate of a destructive action that asks for a name to be typed.

/**
 * confirmsName reports whether typed confirms deleting something called
 * name: the same characters, ignoring spaces at either end. Case matters,
 * so "imaging" does not delete "Imaging".
 */
export function confirmsName(typed: string, name: string): boolean {
  const want = name.trim();
  return want.length > 0 && typed.trim() === want;
}
