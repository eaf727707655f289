/**
 * Identifiers shaped like a real region's: 6-character lower-case system_ids and
 * "adjective-noun" hostnames (MAAS uses petnames such as "lowlier-glady").
 */
import type { Rng } from "./rng.ts";

// MAAS leaves out characters that are easy to misread; so do we.
const SYSTEM_ID_ALPHABET = "abcdefghkmnpqrstwxy3478";

const ADJECTIVES = (
  "able acute adept agile alert amber ample apt arid awake balmy basic bold brave brief brisk " +
  "broad busy calm candid casual chief civil clean clear close cosmic cozy crisp cubic curly " +
  "daring dear deep dense direct divine driven eager early easy elite equal exact expert fair " +
  "famous fancy fast fine firm first fit fluent fond free fresh frank full funny game gentle " +
  "giving glad golden good grand great green handy happy hardy hearty helped heroic holy honest " +
  "huge humane ideal immune joint jolly just keen key kind large lasting legal liberal light " +
  "live lively logical loved loyal lucky magic main major mature merry mighty modern moral " +
  "native neat new nice noble normal novel open optimal oriented patient peaceful perfect polite " +
  "pretty prime proper proud quick quiet rapid rare ready real relaxed related renewed rested " +
  "rich right robust rosy rugged safe saving secure select sharp shining simple sincere smart " +
  "smooth social solid sound special stable steady still strong super sure sweet swift tender " +
  "tidy tight topical tough true trusty united upward usable valid vast verified vital warm " +
  "welcome whole wise witty worthy"
).split(" ");

const NOUNS = (
  "adder akita alpaca ant ape asp bass bat bear beetle bengal bird bison boa boar bobcat " +
  "bream buck bug bull burro calf camel carp cat cattle chamois chimp chow civet clam cobra " +
  "cod colt condor coral cougar cow crab crane crow cub dane deer dingo doe dodo dog dolphin " +
  "donkey dory dove drake drum duck eagle eel egret eland elk emu escargot ewe falcon fawn " +
  "feline ferret filly finch fish flea fly foal fowl fox frog gar gator gecko gelding gibbon " +
  "gnat gnu goat goblin goose gopher grouse grub gull guppy haddock hagfish halibut hare hawk " +
  "hen heron hog hornet horse hound husky hyena ibex iguana impala insect jackal jaguar jay " +
  "joey kid kit kite kiwi koala koi krill lab lamb lark leech lemming lemur liger lion llama " +
  "lobster locust loon louse lynx macaque macaw mako mammal mantis marlin marmot mayfly mink " +
  "minnow mole molly monkey moose moth mouse mule mullet mutt newt oarfish octopus orca oriole " +
  "oryx osprey owl ox oyster panda parrot perch pig pika pipefish piranha pony poodle porpoise " +
  "possum prawn pug puma pup python quagga quail rabbit ram raptor rat raven ray redbird robin " +
  "rodent rooster sailfish salmon seal shad shark sheep shiner shrew shrimp skink skunk sloth " +
  "slug snail snake snapper snipe sole sparrow spider squid stag starling stork sunbeam swan " +
  "swift tahr tapir tarpon teal termite tetra thrush tick tiger toad tomcat tortoise trout tuna " +
  "turkey turtle unicorn urchin viper vole wahoo walrus warthog wasp weasel whale whippet wolf " +
  "wombat worm wren yak zebra"
).split(" ");

/** A new system_id not in `taken`; adds it to `taken`. */
export function newSystemId(rng: Rng, taken: Set<string>): string {
  for (;;) {
    let id = "";
    for (let i = 0; i < 6; i++) id += SYSTEM_ID_ALPHABET[rng.int(SYSTEM_ID_ALPHABET.length)];
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

/** A new petname hostname not in `taken`; adds it to `taken`. */
export function newPetname(rng: Rng, taken: Set<string>): string {
  for (let attempt = 0; ; attempt++) {
    let name = `${rng.pick(ADJECTIVES)}-${rng.pick(NOUNS)}`;
    // Past a few collisions the word space is crowded (large fleets): add a number, as an operator would.
    if (attempt >= 4) name += `-${rng.int(1000)}`;
    if (!taken.has(name)) {
      taken.add(name);
      return name;
    }
  }
}

const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** MAAS hostnames are DNS labels. */
export function isValidHostname(name: string): boolean {
  return HOSTNAME_RE.test(name);
}
