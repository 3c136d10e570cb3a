// cursors: cursor pagination as a stack of the cursors that led to each page seen.

import { computed, ref, watch, type WatchSource } from "vue";

/**
 * useCursors keeps the cursors of the pages seen: `cursor` is the current
 * page's (undefined for the first), `next(c)` goes on to the page at c,
 * `prev()` back. The stack starts over whenever a value in resetOn changes
 * (the team, the filters).
 */
export function useCursors(resetOn: WatchSource[] = []) {
  const stack = ref<(string | undefined)[]>([undefined]);
  const cursor = computed(() => stack.value[stack.value.length - 1]);
  const pageNumber = computed(() => stack.value.length);
  const reset = () => {
    stack.value = [undefined];
  };
  if (resetOn.length) watch(resetOn, reset);
  return {
    cursor,
    pageNumber,
    hasPrev: computed(() => stack.value.length > 1),
    next: (c: string | null | undefined) => {
      if (c) stack.value.push(c);
    },
    prev: () => {
      if (stack.value.length > 1) stack.value.pop();
    },
    reset,
  };
}
