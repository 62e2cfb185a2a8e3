"""Sections of a model directory's MODEL_CARD.md, put there by the tools
that measure the model (standard library only)."""

import os


def put_card_section(modeldir, sec):
    """Put the section sec (Markdown starting with its "## title" line) into
    modeldir/MODEL_CARD.md: in place of the section of that title, or else
    before "## Limits", or else at the end."""
    cp = os.path.join(modeldir, "MODEL_CARD.md")
    if not os.path.exists(cp):
        return
    with open(cp) as f:
        card = f.read()
    mark = sec.split("\n", 1)[0]
    if mark in card:
        head, rest = card.split(mark, 1)
        nxt = rest.find("\n## ")
        card = head + sec + ("\n" + rest[nxt + 1:] if nxt >= 0 else "")
    else:
        nxt = card.find("\n## Limits")
        card = (card[:nxt + 1] + sec + "\n" + card[nxt + 1:]) if nxt >= 0 else card + "\n" + sec
    with open(cp, "w") as f:
        f.write(card)
