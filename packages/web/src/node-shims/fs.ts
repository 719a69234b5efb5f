/**
 * Stand-in for `node:fs` in the browser build, for the file output of core's runner that a page
 * never reaches (see packages/web/node-imports.json): every function throws.
 */
function unavailable(name: string): () => never {
  return () => {
    throw new Error(`fs.${name} is not available in a web page (the page keeps a run in memory and downloads its files)`);
  };
}

export const closeSync = unavailable('closeSync');
export const existsSync = unavailable('existsSync');
export const fstatSync = unavailable('fstatSync');
export const mkdirSync = unavailable('mkdirSync');
export const openSync = unavailable('openSync');
export const readdirSync = unavailable('readdirSync');
export const readFileSync = unavailable('readFileSync');
export const readSync = unavailable('readSync');
export const renameSync = unavailable('renameSync');
export const rmSync = unavailable('rmSync');
export const writeFileSync = unavailable('writeFileSync');
