/**
 * HAProxy's command-line syntax on the stats socket (cli.c): a line holds one or more commands
 * separated by `;`, a command is words separated by spaces or tabs, and a backslash makes the next
 * character plain (`\;` a semicolon, `\ ` a space inside a word, `\\` a backslash).
 *
 * @module
 */

/** HAProxy's MAX_CLI_ARGS: a command with more words is refused. */
export const MAX_COMMAND_WORDS = 64;

/** Splits a line at its unescaped semicolons; escapes are kept for {@link splitWords}. */
export function splitCommands(line: string): string[] {
  const commands: string[] = [];
  let start = 0;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (char === "\\") index++;
    else if (char === ";") {
      commands.push(line.slice(start, index));
      start = index + 1;
    }
  }
  commands.push(line.slice(start));
  return commands;
}

/** The words of one command, escapes resolved; empty for a blank command. */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let index = 0; index < command.length; index++) {
    const char = command[index]!;
    if (char === "\\") {
      inWord = true;
      index++;
      if (index < command.length) word += command[index];
    } else if (char === " " || char === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Quotes a word back for a message: as the operator typed it, between single quotes (HAProxy's style). */
export function quoteWords(words: readonly string[]): string {
  return `'${words.join(" ")}'`;
}
