/**
 * Random container names in Docker's style (`adjective_surname`), from Wharf's own word lists:
 * adjectives about weather, water and temperament; surnames of navigators, astronomers,
 * engineers and mathematicians.
 */
import { randomInt } from 'node:crypto';

export const ADJECTIVES: readonly string[] = [
  'amber', 'ardent', 'balmy', 'blithe', 'breezy', 'brisk', 'calm', 'candid', 'civil', 'clever',
  'cosmic', 'crisp', 'daring', 'deft', 'dusky', 'eager', 'earnest', 'fabled', 'fervent', 'frosty',
  'gallant', 'gentle', 'gleaming', 'hardy', 'hazy', 'humble', 'jaunty', 'jovial', 'keen', 'lucid',
  'mellow', 'misty', 'modest', 'nimble', 'noble', 'placid', 'plucky', 'quiet', 'radiant', 'rugged',
  'serene', 'shrewd', 'snug', 'spry', 'stalwart', 'steady', 'stoic', 'sunny', 'swift', 'tidal',
  'tranquil', 'valiant', 'vivid', 'wary', 'windy', 'witty', 'zealous', 'zesty',
];

export const SURNAMES: readonly string[] = [
  'abbe', 'agnesi', 'alhazen', 'ampere', 'babbage', 'baudot', 'bessel', 'bose', 'brahe', 'cabot',
  'carnot', 'cassini', 'cavendish', 'coriolis', 'dalton', 'dirac', 'doppler', 'drake', 'euler', 'faraday',
  'fresnel', 'galvani', 'gauss', 'gibbs', 'halley', 'harrison', 'herschel', 'huygens', 'joule', 'kelvin',
  'kepler', 'lagrange', 'laplace', 'leavitt', 'magellan', 'maxwell', 'mercator', 'napier', 'nansen', 'ohm',
  'pascal', 'peary', 'planck', 'ptolemy', 'raman', 'riemann', 'rossby', 'shackleton', 'somerville', 'tasman',
  'tesla', 'torricelli', 'vespucci', 'volta', 'watt', 'weber', 'wegener', 'zeno',
];

function pick(words: readonly string[]): string {
  return words[randomInt(words.length)]!;
}

/** `adjective_surname`; on a retry (`retry` > 0) a random digit is appended, as Docker does. */
export function randomName(retry = 0): string {
  const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
  return retry > 0 ? `${name}${randomInt(10)}` : name;
}
