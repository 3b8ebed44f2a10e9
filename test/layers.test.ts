import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Layers point one way: what imports what, read from the sources themselves.

const ROOT = join(import.meta.dirname, '..');

function sourcesUnder(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

const files = [...sourcesUnder('src'), ...sourcesUnder('functions')];
const known = new Set(files);

/** file → the project files it imports (type-only imports included: they are dependencies too). */
const imports = new Map(
  files.map((file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)'/g)]
      .map((match) => relative(ROOT, resolve(ROOT, dirname(file), match[1] ?? '')))
      .filter((target) => known.has(target));
    return [file, targets] as const;
  }),
);

/** `src/escalation`, `src/ports.ts`'s `src`, `functions/probe`: the unit a layer rule talks about. */
const folderOf = (file: string) => {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : (parts[0] ?? file);
};

/** Every cycle in a graph, each as the path that closes it (depth-first, each cycle reported once). */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('Layers', () => {
  it('has no import cycle between files', () => {
    expect(cyclesOf(imports).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('has no import cycle between folders (src/<layer>, functions/<capability>)', () => {
    const folders = new Map<string, Set<string>>();
    for (const [file, targets] of imports) {
      for (const target of targets) {
        const [from, to] = [folderOf(file), folderOf(target)];
        if (from === to) continue;
        folders.set(from, (folders.get(from) ?? new Set()).add(to));
      }
    }
    const graph = new Map([...folders].map(([folder, targets]) => [folder, [...targets]]));
    expect(cyclesOf(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('imports functions/* from src/ only in the composition roots (src/local, src/cli)', () => {
    const offenders = [...imports]
      .filter(([file]) => file.startsWith('src/') && !/^src\/(local|cli)\//.test(file))
      .flatMap(([file, targets]) =>
        targets.filter((target) => target.startsWith('functions/')).map((t) => `${file} → ${t}`),
      );
    expect(offenders).toEqual([]);
  });

  it('keeps the domain free of config, adapters and AWS', () => {
    const offenders = [...imports]
      .filter(([file]) => file.startsWith('src/domain/'))
      .flatMap(([file, targets]) =>
        targets.filter((target) => !target.startsWith('src/domain/')).map((t) => `${file} → ${t}`),
      );
    expect(offenders).toEqual([]);
  });

  it('reads every import it should: the graph is not empty', () => {
    expect(imports.get('functions/ingest/ingest-alerts.ts')).toContain('src/domain/alertmanager.ts');
  });
});
