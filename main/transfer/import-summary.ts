/**
 * What an import left out, collected while a file is read. Other tools can say things Junction cannot
 * (vmess proxies, GEOIP rules, PAC scripts …); an import keeps everything else and lists each kind of
 * thing it dropped with a count and a few examples, so nothing disappears without the user being told.
 */
import type { ImportFormat, ImportSkipped, ImportSummary } from '../../common/ipc-contract.ts'
import type { Profile } from '../../common/model.ts'

/** Examples listed per kind: enough to recognise the thing, short enough to read. */
const EXAMPLES = 3
/** An example is a pattern or a name from the file; a 2 KB regex would drown the summary. */
const EXAMPLE_CHARS = 120

export class SkipList {
  private readonly kinds = new Map<string, ImportSkipped>()
  private readonly noteSet = new Set<string>()

  /** Records one thing left out, under `what` (e.g. `GEOIP rules`). */
  skip(what: string, example: string): void {
    const kind = this.kinds.get(what) ?? { what, count: 0, examples: [] }
    kind.count++
    const shown = example.length > EXAMPLE_CHARS ? `${example.slice(0, EXAMPLE_CHARS)}…` : example
    if (kind.examples.length < EXAMPLES && !kind.examples.includes(shown)) kind.examples.push(shown)
    this.kinds.set(what, kind)
  }

  /** A difference in meaning that is not a loss, said once however often it applies. */
  note(text: string): void {
    this.noteSet.add(text)
  }

  summary(format: ImportFormat, profiles: Profile[]): ImportSummary {
    return {
      format,
      profiles: profiles.map((p) => ({
        id: p.id,
        name: p.name,
        upstreams: p.upstreams.length,
        groups: p.groups?.length ?? 0,
        rules: p.rules.length
      })),
      skipped: [...this.kinds.values()],
      notes: [...this.noteSet]
    }
  }
}
