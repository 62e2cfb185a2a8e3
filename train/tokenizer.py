"""WordPiece tokenizer of modgate-encoder-v1 (train/FORMAT.md) and its trainer.

Encoding (must match the C engine exactly):
  1. lowercase ASCII A-Z only;
  2. words: maximal runs of code points of general category L*, M* or N*;
     any other code point that is not white space (Z* or U+0009..U+000D) is a
     word by itself; white space separates words;
  3. a word longer than max_word_chars code points is one [UNK];
  4. greedy longest match from the start of the word, later pieces with "##";
     if nothing matches at some position the whole word is one [UNK];
  5. every token carries the byte span [start, end) of its piece in the
     original UTF-8 text.

Training: byte-pair-style merges over word frequencies (continuation symbols
carry the "##" prefix), seeded with every character seen often enough, in
both its word-initial and its "##" form.  Ties are broken by the pair's text,
so the vocabulary is a pure function of the corpus and the parameters.
"""

import collections
import heapq
import re
import unicodedata

PAD, UNK, CLS, SEP = 0, 1, 2, 3
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
CONT = "##"


def _is_space(ch):
    o = ord(ch)
    if 0x09 <= o <= 0x0D:
        return True
    return unicodedata.category(ch)[0] == "Z"


def _is_word_char(ch):
    return unicodedata.category(ch)[0] in "LMN"


def _lower_ascii(ch):
    o = ord(ch)
    if 0x41 <= o <= 0x5A:
        return chr(o + 32)
    return ch


def _utf8_len(ch):
    o = ord(ch)
    if o < 0x80:
        return 1
    if o < 0x800:
        return 2
    if o < 0x10000:
        return 3
    return 4


def pretokenize(text):
    """Split text into words.

    Returns a list of (word, char_offsets, byte_start, byte_end) where word is
    the lowercased word and char_offsets[i] is the byte offset of its i-th
    code point (with one extra entry: the byte end)."""
    words = []
    cur = []
    offs = []
    pos = 0
    for ch in text:
        n = _utf8_len(ch)
        if _is_space(ch):
            if cur:
                offs.append(pos)
                words.append(("".join(cur), offs, offs[0], pos))
                cur, offs = [], []
        elif _is_word_char(ch):
            cur.append(_lower_ascii(ch))
            offs.append(pos)
        else:
            if cur:
                offs.append(pos)
                words.append(("".join(cur), offs, offs[0], pos))
                cur, offs = [], []
            words.append((_lower_ascii(ch), [pos, pos + n], pos, pos + n))
        pos += n
    if cur:
        offs.append(pos)
        words.append(("".join(cur), offs, offs[0], pos))
    return words


# for ASCII text the rules above reduce to this expression (letters and
# digits are the only word characters, TAB..CR and SPACE the only spaces)
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[^a-z0-9\t\n\x0b\x0c\r ]")


def words_of(text):
    """The lowercased words of text (no offsets), for counting."""
    if text.isascii():
        return _ASCII_WORDS.findall(text.lower())
    return [w for w, _, _, _ in pretokenize(text)]


class WordPiece:
    def __init__(self, vocab, max_word_chars=64):
        if list(vocab[:4]) != SPECIALS:
            raise ValueError("vocabulary must start with " + " ".join(SPECIALS))
        self.vocab = list(vocab)
        self.ids = {}
        for i, t in enumerate(self.vocab):
            if t in self.ids:
                raise ValueError("duplicate vocabulary entry %r" % t)
            if t == "" or "\n" in t or "\r" in t:
                raise ValueError("bad vocabulary entry %r" % t)
            self.ids[t] = i
        self.max_word_chars = max_word_chars
        self.max_len = max(len(t) for t in self.vocab)
        self._cache = {}

    def __len__(self):
        return len(self.vocab)

    @classmethod
    def load(cls, path, max_word_chars=64):
        with open(path, "rb") as f:
            data = f.read().decode("utf-8")
        lines = data.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines, max_word_chars)

    def save(self, path):
        with open(path, "wb") as f:
            f.write("".join(t + "\n" for t in self.vocab).encode("utf-8"))

    def split_word(self, word):
        """Pieces of one word as a list of (id, char_start, char_end)."""
        r = self._cache.get(word)
        if r is not None:
            return r
        n = len(word)
        if n > self.max_word_chars:
            r = [(UNK, 0, n)]
        else:
            r = []
            i = 0
            while i < n:
                found = None
                j = min(n, i + self.max_len)
                while j > i:
                    piece = word[i:j] if i == 0 else CONT + word[i:j]
                    tid = self.ids.get(piece)
                    if tid is not None:
                        found = (tid, i, j)
                        break
                    j -= 1
                if found is None:
                    r = [(UNK, 0, n)]
                    break
                r.append(found)
                i = found[2]
        if len(self._cache) < 500000:
            self._cache[word] = r
        return r

    def encode(self, text):
        """Token ids and byte spans of text (no [CLS])."""
        ids, spans = [], []
        for word, offs, _, _ in pretokenize(text):
            for tid, a, b in self.split_word(word):
                ids.append(tid)
                spans.append((offs[a], offs[b]))
        return ids, spans

    def encode_ids(self, text):
        ids = []
        for word in words_of(text):
            ids.extend(t for t, _, _ in self.split_word(word))
        return ids


def windows(ids, window, stride):
    """Window start offsets over a token list per FORMAT.md: windows of
    window-1 tokens starting at 0, stride, 2*stride, ..., the last being the
    first that reaches the end.  Returns a list of (start, end)."""
    w = window - 1
    n = len(ids)
    if n == 0:
        return [(0, 0)]
    out = []
    s = 0
    while True:
        e = min(n, s + w)
        out.append((s, e))
        if e >= n:
            break
        s += stride
    return out


def _printable(ch):
    return unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn") and not _is_space(ch)


def train(texts, vocab_size=8192, min_char_count=3, max_chars=1500,
          min_pair_count=2, max_word_chars=64, progress=None):
    """Learn a vocabulary of at most vocab_size entries from an iterable of
    texts.  Deterministic for a given corpus."""
    counts = collections.Counter()
    for t in texts:
        counts.update(words_of(t))
    counts = {w: c for w, c in counts.items() if len(w) <= max_word_chars}

    chars = collections.Counter()
    for w, c in counts.items():
        for ch in w:
            chars[ch] += c
    alphabet = sorted((ch for ch, c in chars.items()
                       if c >= min_char_count and _printable(ch)),
                      key=lambda ch: (-chars[ch], ch))[:max_chars]
    alphabet.sort()
    alpha = set(alphabet)
    vocab = list(SPECIALS)
    for ch in alphabet:
        vocab.append(ch)
    for ch in alphabet:
        if _is_word_char(ch):
            vocab.append(CONT + ch)
    seen = set(vocab)
    if len(vocab) >= vocab_size:
        return WordPiece(vocab[:vocab_size], max_word_chars)

    # words as symbol lists; only words made entirely of known characters
    words = []
    freqs = []
    for w in sorted(counts):
        if len(w) < 2 or not all(ch in alpha for ch in w):
            continue
        words.append([w[0]] + [CONT + ch for ch in w[1:]])
        freqs.append(counts[w])

    pair_count = collections.defaultdict(int)
    pair_words = collections.defaultdict(set)
    for wi, syms in enumerate(words):
        f = freqs[wi]
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += f
            pair_words[(a, b)].add(wi)

    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    target = vocab_size - len(vocab)
    done = 0
    while done < target and heap:
        negc, pair = heapq.heappop(heap)
        c = pair_count.get(pair, 0)
        if c != -negc:
            continue    # stale: every change pushed the current count
        if c < min_pair_count:
            break
        a, b = pair
        new = a + b[len(CONT):]
        if new not in seen:
            seen.add(new)
            vocab.append(new)
            done += 1
            if progress:
                progress(done, target)
        changed = collections.defaultdict(int)
        for wi in sorted(pair_words.pop(pair, ())):
            syms = words[wi]
            f = freqs[wi]
            i = 0
            out = []
            merged = False
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                    merged = True
                else:
                    out.append(syms[i])
                    i += 1
            if not merged:
                continue
            for p in zip(syms, syms[1:]):
                changed[p] -= f
            for p in zip(out, out[1:]):
                changed[p] += f
                pair_words[p].add(wi)
            words[wi] = out
        pair_count.pop(pair, None)
        for p, d in sorted(changed.items()):
            if p == pair or d == 0:
                continue
            pair_count[p] += d
            if pair_count[p] <= 0:
                pair_count.pop(p, None)
            else:
                heapq.heappush(heap, (-pair_count[p], p))
    return WordPiece(vocab, max_word_chars)
