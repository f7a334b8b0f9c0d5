import { InvalidArgumentError } from 'commander';

/** commander's parser for a numeric option from `min` to `max`: whole numbers only, unless `fractions`. */
export const numberOption =
  (min: number, max: number, { fractions = false } = {}) =>
  (value: string): number => {
    const n = Number(value);
    const shape = fractions ? /^\d+(\.\d+)?$/ : /^\d+$/;
    if (!shape.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a ${fractions ? '' : 'whole '}number from ${min} to ${max}`);
    }
    return n;
  };
