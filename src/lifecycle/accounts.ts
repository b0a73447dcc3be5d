/**
 * The account databases `user`/`group` are looked up in: the text of /etc/passwd and /etc/group.
 *
 * The runtime contract has no getpwnam(3): the files are read as text, so accounts that only an
 * NSS module knows (LDAP, sssd, systemd's dynamic users) are not found by name; configure them by
 * numeric id. As in glibc's files module, the first line naming an account wins, and blank lines,
 * `#` comments and the `+`/`-` lines of the old NIS compat syntax are skipped.
 *
 * @module
 */

/** Where user accounts are looked up. */
export const PASSWD_FILE = "/etc/passwd";
/** Where groups are looked up. */
export const GROUP_FILE = "/etc/group";

/** A user account: `name:password:uid:gid:gecos:home:shell`. */
export interface UserAccount {
  readonly name: string;
  readonly uid: number;
  /** The primary group. */
  readonly gid: number;
}

/** A group: `name:password:gid:members` (the members are not needed: the proxy keeps no supplementary group). */
export interface GroupAccount {
  readonly name: string;
  readonly gid: number;
}

/** Ids above this are not valid uid_t/gid_t values (2^32 - 1 is the "no id" marker of setreuid). */
const MAX_ID = 4_294_967_294;

/** A decimal id as the files hold it, or null for anything else (a malformed line is skipped, as glibc does). */
function parseId(text: string | undefined): number | null {
  if (text === undefined || !/^[0-9]{1,10}$/.test(text)) return null;
  const id = Number(text);
  return id <= MAX_ID ? id : null;
}

/** The colon-separated fields of each line that holds an account. */
function accountLines(text: string): string[][] {
  const lines: string[][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "" || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const fields = line.split(":");
    if (fields[0] === "") continue;
    lines.push(fields);
  }
  return lines;
}

/** Parses the text of /etc/passwd; malformed lines are skipped. */
export function parsePasswd(text: string): UserAccount[] {
  const accounts: UserAccount[] = [];
  for (const fields of accountLines(text)) {
    const uid = parseId(fields[2]);
    const gid = parseId(fields[3]);
    if (uid === null || gid === null) continue;
    accounts.push({ name: fields[0]!, uid, gid });
  }
  return accounts;
}

/** Parses the text of /etc/group; malformed lines are skipped. */
export function parseGroup(text: string): GroupAccount[] {
  const groups: GroupAccount[] = [];
  for (const fields of accountLines(text)) {
    const gid = parseId(fields[2]);
    if (gid === null) continue;
    groups.push({ name: fields[0]!, gid });
  }
  return groups;
}

/** The first account named `name`, or undefined. */
export function userByName(accounts: readonly UserAccount[], name: string): UserAccount | undefined {
  return accounts.find((account) => account.name === name);
}

/** The first account with uid `uid`, or undefined. */
export function userById(accounts: readonly UserAccount[], uid: number): UserAccount | undefined {
  return accounts.find((account) => account.uid === uid);
}

/** The first group named `name`, or undefined. */
export function groupByName(groups: readonly GroupAccount[], name: string): GroupAccount | undefined {
  return groups.find((group) => group.name === name);
}
