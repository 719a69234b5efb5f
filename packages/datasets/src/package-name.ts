/** The npm name of this package, recorded in its component definitions. */
export const PACKAGE_NAME = '@supermask/datasets';
