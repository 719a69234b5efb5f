import { describe, expect, it } from 'vitest';
import { applyOverrides, closestMatch, ConfigError, didYouMean, editDistance, lineColumn, parseConfigText } from '@supermask/core';

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('did you mean', () => {
  it('computes the Levenshtein distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('lenet', 'lenet')).toBe(0);
    expect(editDistance('epoch', 'epochs')).toBe(1);
  });

  it('suggests the closest candidate only when it is a likely misspelling', () => {
    expect(closestMatch('lenett', ['lenet', 'resnet18', 'resnet50'])).toBe('lenet');
    expect(closestMatch('Epoch', ['epochs', 'lr', 'batch_size'])).toBe('epochs');
    expect(closestMatch('transformer', ['lenet', 'resnet18'])).toBeUndefined();
    expect(didYouMean('supsop', ['supsup', 'exssnet'])).toBe('; did you mean "supsup"?');
    expect(didYouMean('zzz', ['supsup', 'exssnet'])).toBe('');
  });
});

describe('config text', () => {
  it('names line and column of a JSON syntax error', () => {
    expect(lineColumn('ab\ncd\nef', 4)).toEqual({ line: 2, column: 2 });
    const text = '{\n  "seed": 0,\n  "name": "x",,\n}\n';
    const e = errorOf(() => parseConfigText(text, 'c.json', 'json'));
    expect(e.message).toMatch(/^c\.json:3:15: config file c\.json is not valid JSON/);
    const truncated = '{\n  "seed": 0,\n';
    expect(errorOf(() => parseConfigText(truncated, 't.json', 'json')).message).toMatch(/^t\.json:3:1: /);
  });

  it('names line and column of a YAML syntax error', () => {
    const e = errorOf(() => parseConfigText('seed: 0\nstream: { id: split\nname: x\n', 'c.yaml', 'yaml'));
    expect(e.message).toMatch(/^c\.yaml:\d+:\d+: config file c\.yaml is not valid YAML/);
    expect(parseConfigText('seed: 3\n', 'ok.yaml', 'yaml')).toEqual({ seed: 3 });
  });
});

describe('--set overrides', () => {
  it('sets dotted paths, parsing values as JSON else keeping the string', () => {
    const raw = { strategy: { id: 'supsup', options: { mask_phase: { epochs: 1 } } }, stream: { options: { class_order: [0, 1, 2] } } };
    const out = applyOverrides(raw, [
      'strategy.options.mask_phase.epochs=3',
      'strategy.options.mask_phase.optimizer=sgd',
      'backbone.id=lenet',
      'backbone.options.hidden=[8,4]',
      'stream.options.class_order.1=7',
      'name="42"',
    ]);
    expect(out.strategy).toEqual({ id: 'supsup', options: { mask_phase: { epochs: 3, optimizer: 'sgd' } } });
    expect(out.backbone).toEqual({ id: 'lenet', options: { hidden: [8, 4] } });
    expect((out.stream as { options: { class_order: number[] } }).options.class_order).toEqual([0, 7, 2]);
    expect(out.name).toBe('42');
  });

  it('rejects malformed overrides and paths through non-objects, naming the path', () => {
    expect(errorOf(() => applyOverrides({}, ['epochs'])).message).toMatch(/--set epochs: expected PATH=VALUE/);
    expect(errorOf(() => applyOverrides({}, ['a..b=1'])).message).toMatch(/expected PATH=VALUE/);
    expect(errorOf(() => applyOverrides({ seed: 1 }, ['seed.x=1'])).message).toMatch(/--set: seed is 1, not an object/);
    expect(errorOf(() => applyOverrides({ l: [1] }, ['l.5=1'])).message).toMatch(/--set l\.5: l is a list of 1; "5" is not an index/);
  });
});
