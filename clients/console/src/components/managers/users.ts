// users: what the IT manager's users page says about a user's access.

import type { UserAccount } from "@conveyor/client";

/** SELF_DISABLE_NOTE says why an admin's own row has no Disable button (the API refuses it, 422). */
export const SELF_DISABLE_NOTE = "You cannot disable yourself: ask another platform admin.";

/** UserChange is what confirming a disable or enable asks. */
export interface UserChange {
  title: string;
  message: string;
  ok: string;
  done: string;
}

const who = (u: Pick<UserAccount, "name" | "email">) => u.name || u.email || "This user";

/** userChange is the confirmation of disabling (or enabling) u, and the notice once done. */
export function userChange(u: Pick<UserAccount, "name" | "email" | "disabled">): UserChange {
  const name = who(u);
  if (u.disabled) {
    return {
      title: "Enable user?",
      message: `${name} can use Conveyor again from their next request, with the teams and roles they have.`,
      ok: "Enable user",
      done: `Enabled ${name}`,
    };
  }
  return {
    title: "Disable user?",
    message:
      `${name} is refused at once on every request, although they are still signed in, and their live updates stop. ` +
      "They keep their teams and roles, for when they are enabled again. " +
      "API keys they created keep working: they belong to the team, and its managers revoke them.",
    ok: "Disable user",
    done: `Disabled ${name}`,
  };
}
