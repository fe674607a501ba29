/** The sample vibe of the demo and the benchmarks. */
export const SAMPLE_VIBE =
  'A marketplace for vintage furniture. Sellers list items with a title, a description and a price. ' +
  'Buyers browse active listings, place bids, and check out orders. Each user has a profile. ' +
  'Buyers only ever see their own bids and orders. Show daily sales analytics.';
