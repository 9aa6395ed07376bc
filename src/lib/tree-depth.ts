/**
 * How many directory levels a walk of a container's or a context's files goes down, at most. A
 * walk holds an open directory per level, and a container can nest directories as deep as it
 * likes, while fds are the daemon's; Docker's walks (path strings) stop at PATH_MAX, about as deep
 * as one-character names reach.
 */
export const MAX_TREE_DEPTH = 2048;

/** Docker's error for a path its walk cannot reach (ENAMETOOLONG). */
export const tooDeep = (name: string): string => `lstat ${name.slice(0, 64)}…: file name too long`;
