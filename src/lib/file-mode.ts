/**
 * A mode as chmod(1) takes it, octal or symbolic (`u+x,g=r,o-rwx`, `a=rX`, `g=u`), applied with
 * a umask of 0 as BuildKit applies COPY --chmod (the BSD setmode rules its copier follows: `X`
 * looks at the mode before the change and at whether the entry is a directory; `s` and `t` count
 * only when no class or a class other than `o` is named).
 */

const CLASS_BITS = { u: 0o4700, g: 0o2070, o: 0o0007 } as const;
const SET_ID = { u: 0o4000, g: 0o2000, o: 0 } as const;
const ALL = 0o6777;
const STICKY = 0o1000;

type Class = keyof typeof CLASS_BITS;

/** One operator of a clause and what follows it. */
interface Action {
  op: '+' | '-' | '=';
  /** r, w, x, s, t as bits for every class (masked by the clause's classes when applied). */
  bits: number;
  /** `X`: execute, for a directory or an entry someone may already execute. */
  searchable: boolean;
  /** `u`, `g`, `o` after the operator: that class's current permissions copied. */
  copies: Class[];
}

interface Clause {
  /** The classes named; none means all of them. */
  classes: Class[];
  actions: Action[];
}

export class ModeChange {
  private constructor(
    private readonly octal: number | null,
    private readonly clauses: Clause[],
  ) {}

  /** Throws 'invalid syntax' (symbolic) or the octal refusal's RangeError for what chmod(1) would not take. */
  static parse(text: string): ModeChange {
    if (/^[0-9]/.test(text)) {
      if (!/^[0-7]+$/.test(text) || parseInt(text, 8) > 0o7777) throw new RangeError('invalid octal mode');
      return new ModeChange(parseInt(text, 8), []);
    }
    const clauses: Clause[] = [];
    for (const part of text.split(',')) {
      let i = 0;
      const classes: Class[] = [];
      for (; i < part.length && 'augo'.includes(part[i]!); i++) {
        const c = part[i]!;
        if (c === 'a') classes.push('u', 'g', 'o');
        else classes.push(c as Class);
      }
      const actions: Action[] = [];
      while (i < part.length) {
        const op = part[i++]!;
        if (op !== '+' && op !== '-' && op !== '=') throw new SyntaxError('invalid syntax');
        const action: Action = { op, bits: 0, searchable: false, copies: [] };
        for (; i < part.length && !'+-='.includes(part[i]!); i++) {
          const p = part[i]!;
          if (p === 'r') action.bits |= 0o444;
          else if (p === 'w') action.bits |= 0o222;
          else if (p === 'x') action.bits |= 0o111;
          else if (p === 'X') {
            if (op === '-') action.bits |= 0o111;
            else action.searchable = true;
          } else if (p === 's') action.bits |= 0o6000;
          else if (p === 't') action.bits |= STICKY;
          else if (p === 'u' || p === 'g' || p === 'o') action.copies.push(p);
          else throw new SyntaxError('invalid syntax');
        }
        actions.push(action);
      }
      if (actions.length === 0) throw new SyntaxError('invalid syntax');
      clauses.push({ classes, actions });
    }
    return new ModeChange(null, clauses);
  }

  /** The permission bits (07777) of an entry whose bits were `mode`. */
  apply(mode: number, isDir: boolean): number {
    if (this.octal !== null) return this.octal;
    const before = mode & 0o7777;
    let now = before;
    for (const { classes, actions } of this.clauses) {
      const named = classes.length > 0;
      const who = named ? classes.reduce((m, c) => m | CLASS_BITS[c], 0) : ALL;
      // Set-id bits only for the classes that have one; the sticky bit only without `o` alone.
      const special = (named ? classes.reduce((m, c) => m | SET_ID[c], 0) : 0o6000) | (!named || classes.some((c) => c !== 'o') ? STICKY : 0);
      for (const a of actions) {
        let bits = a.bits & (who | special);
        if (a.searchable && (isDir || (before & 0o111) !== 0)) bits |= 0o111 & who;
        for (const c of a.copies) {
          const shift = c === 'u' ? 6 : c === 'g' ? 3 : 0;
          bits |= (((now >> shift) & 7) * 0o111) & who & 0o777;
        }
        if (a.op === '-') now &= ~bits;
        else {
          if (a.op === '=') now &= ~(who | (a.bits & STICKY & special));
          now |= bits;
        }
      }
    }
    return now;
  }
}
