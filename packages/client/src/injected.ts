/**
 * A browser API the SDK lets tests and apps replace: the one given; the page's own when none is
 * (undefined); none at all for null (which makes the SDK take its fallback, e.g. act alone).
 */
export const injected = <T>(given: T | null | undefined, pagesOwn: T | undefined): T | undefined =>
  given === undefined ? pagesOwn : (given ?? undefined);
