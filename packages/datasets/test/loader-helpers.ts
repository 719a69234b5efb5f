import { expect } from 'vitest';
import { DataError, TOKENS, type DatasetLoader, type RunOptions } from '@supermask/core';
import type { ComponentContainer } from '../src/index.js';

/** A minimal DI container holding RunOptions (what the run container provides); none when `run` is undefined. */
export function containerWith(run: RunOptions | undefined): ComponentContainer {
  const fake = {
    isRegistered: (token: unknown) => token === TOKENS.RunOptions && run !== undefined,
    resolve: (token: unknown) => {
      if (token !== TOKENS.RunOptions || run === undefined) throw new Error('not registered');
      return run;
    },
  };
  return fake as unknown as ComponentContainer;
}

/** The DataError a loader's load() rejects with (fails the test if it resolves or throws anything else). */
export async function loadError(loader: DatasetLoader): Promise<DataError> {
  const error = await loader.load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}
