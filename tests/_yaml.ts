/**
 * A small YAML reader for the Kubernetes manifests in deploy/, and accessors that fail with the
 * path they were looking for. Its own test is tests/yaml_reader_test.ts.
 */
import assert from "node:assert/strict";

/** A YAML value, as far as the manifests need. */
export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
/** A YAML mapping. */
export type YamlMap = { [key: string]: Yaml };
interface YamlLine {
  indent: number;
  text: string;
  no: number;
}

/**
 * The block-style YAML subset Kubernetes manifests are written in: mappings, sequences
 * (`- ` items, mappings inside them), plain, quoted and JSON flow scalars, comments, `---`.
 * Anything else (anchors, block scalars, tabs) is a SyntaxError naming the line. Integers with
 * a leading 0 are octal, as Kubernetes (YAML 1.1) reads `defaultMode: 0440`.
 */
export function parseYamlDocuments(text: string): Yaml[] {
  const docs: YamlLine[][] = [[]];
  text.split("\n").forEach((raw, i) => {
    if (/^---\s*$/.test(raw)) return docs.push([]);
    if (/^\s*\t/.test(raw)) throw new SyntaxError(`line ${i + 1}: a tab`);
    const line = stripComment(raw);
    if (line.trim() !== "") {
      docs.at(-1)!.push({
        indent: line.length - line.trimStart().length,
        text: line.trim(),
        no: i + 1,
      });
    }
  });
  return docs.filter((d) => d.length > 0).map((lines) => {
    const [value, next] = yamlBlock(lines, 0, lines[0]!.indent);
    if (next < lines.length) throw new SyntaxError(`line ${lines[next]!.no}: unexpected indent`);
    return value;
  });
}

function stripComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

const isItem = (l: YamlLine) => l.text === "-" || l.text.startsWith("- ");

function yamlBlock(lines: YamlLine[], i: number, indent: number): [Yaml, number] {
  return isItem(lines[i]!) ? yamlSequence(lines, i, indent) : yamlMapping(lines, i, indent);
}

function yamlSequence(lines: YamlLine[], i: number, indent: number): [Yaml[], number] {
  const items: Yaml[] = [];
  while (i < lines.length && lines[i]!.indent === indent && isItem(lines[i]!)) {
    const rest = lines[i]!.text.slice(1).trimStart();
    if (rest === "") {
      const [value, next] = yamlBlock(lines, i + 1, lines[i + 1]!.indent);
      items.push(value);
      i = next;
    } else if (/^[^"'[{][^:]*:(\s|$)/.test(rest)) {
      // `- key: value`: a mapping whose first entry shares the dash's line.
      const column = indent + lines[i]!.text.length - rest.length;
      const inner = [...lines.slice(0, i), { ...lines[i]!, indent: column, text: rest }];
      const [value, next] = yamlMapping([...inner, ...lines.slice(i + 1)], i, column);
      items.push(value);
      i = next;
    } else {
      items.push(yamlScalar(rest, lines[i]!.no));
      i++;
    }
  }
  return [items, i];
}

function yamlMapping(lines: YamlLine[], i: number, indent: number): [YamlMap, number] {
  const map: YamlMap = {};
  while (i < lines.length && lines[i]!.indent === indent && !isItem(lines[i]!)) {
    const { text, no } = lines[i]!;
    const m = /^("[^"]*"|[^\s"'][^:]*?):(?:\s+(.*))?$/.exec(text);
    if (!m) throw new SyntaxError(`line ${no}: not a 'key: value' line: ${text}`);
    const key = m[1]!.startsWith('"') ? JSON.parse(m[1]!) : m[1]!;
    if (key in map) throw new SyntaxError(`line ${no}: duplicate key ${key}`);
    i++;
    if (m[2] !== undefined) map[key] = yamlScalar(m[2], no);
    else if (i < lines.length && lines[i]!.indent > indent) {
      [map[key], i] = yamlBlock(lines, i, lines[i]!.indent);
    } else if (i < lines.length && lines[i]!.indent === indent && isItem(lines[i]!)) {
      [map[key], i] = yamlSequence(lines, i, indent); // a sequence may sit at its key's indent
    } else map[key] = null;
  }
  return [map, i];
}

function yamlScalar(text: string, no: number): Yaml {
  if (/^[|>&*!]/.test(text)) throw new SyntaxError(`line ${no}: unsupported YAML: ${text}`);
  if (/^["[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new SyntaxError(`line ${no}: write flow values as JSON: ${text}`, { cause });
    }
  }
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  if (/^(true|false)$/.test(text)) return text === "true";
  if (/^(null|~)$/.test(text)) return null;
  if (/^0[0-7]+$/.test(text)) return parseInt(text, 8);
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

/** `value` at `path` (`spec.template.spec`), failing with the path when it is missing. */
export function at(value: Yaml | undefined, path: string): Yaml {
  for (const key of path.split(".")) {
    assert.ok(value !== null && typeof value === "object", `${path}: no ${key}`);
    value = Array.isArray(value) ? value[Number(key)] : value[key];
  }
  assert.ok(value !== undefined, `${path} is set`);
  return value;
}

/** `v` as a mapping, failing when it is another kind of value. */
export const asMap = (v: Yaml): YamlMap => {
  assert.ok(v !== null && typeof v === "object" && !Array.isArray(v), "a mapping");
  return v;
};
/** `v` as a sequence, failing when it is another kind of value. */
export const asList = (v: Yaml): Yaml[] => {
  assert.ok(Array.isArray(v), "a sequence");
  return v;
};
