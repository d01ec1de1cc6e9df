"""split_pieces: a CSV cut into row-aligned pieces, whatever the chunk and piece sizes."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from chargeback.bills.sources import RowTooLongError, split_pieces


def _bill(rows: int, seed: int) -> bytes:
    """A header with a quoted newline, then plain rows, quoted newlines and quotes, CRLF endings, long cells,
    and a last row without its newline."""
    rand = random.Random(seed)
    lines = [b'id,note,"amount\n(CNY)"\n']
    for i in range(rows):
        kind = rand.random()
        if kind < 0.15:
            lines.append(b'%d,"two\nlines, ""quoted"" %d",1.5\r\n' % (i, i))
        elif kind < 0.25:
            lines.append(b'%d,"%s",2\n' % (i, b"x" * rand.randint(0, 3000)))
        else:
            lines.append(b"%d,plain,%d\n" % (i, rand.randint(0, 10**9)))
    lines.append(b'last,"no newline",3')
    return b"".join(lines)


def _pieces(data: bytes, tmp_path: Path, **sizes: int) -> list[tuple[int, bytes]]:
    got = []
    for piece in split_pieces(io.BytesIO(data), "bill.zip!bill.csv", tmp_path, **sizes):
        got.append((piece.first_line, piece.path.read_bytes()))
        piece.path.unlink()
    return got


@pytest.mark.parametrize("chunk_bytes", [1, 7, 100, 4096, 1 << 20])
@pytest.mark.parametrize("piece_bytes", [1, 5000, 1 << 30])
def test_pieces_are_the_rows_after_the_header_cut_between_rows(tmp_path: Path, chunk_bytes: int,
                                                               piece_bytes: int) -> None:
    data = _bill(200 if chunk_bytes < 10 else 3000, seed=chunk_bytes + piece_bytes)
    header_end = data.index(b'"\n') + 2
    pieces = _pieces(data, tmp_path, chunk_bytes=chunk_bytes, piece_bytes=piece_bytes)
    assert b"".join(body for _, body in pieces) == data[header_end:]
    offset = header_end
    for index, (first_line, body) in enumerate(pieces):
        assert first_line == 1 + data.count(b"\n", 0, offset)  # the physical line the piece starts on
        assert body.count(b'"') % 2 == 0  # no piece ends inside a quoted cell
        if index < len(pieces) - 1:
            assert body.endswith(b"\n")
            assert len(body) >= min(piece_bytes, chunk_bytes)
        offset += len(body)
    if piece_bytes == 1 << 30:
        assert len(pieces) == 1
    else:
        assert len(pieces) > 1
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("data", [b"", b"id,note\n", b'id,"no\nnewline"'])
def test_a_header_alone_gives_no_piece(tmp_path: Path, data: bytes) -> None:
    assert _pieces(data, tmp_path, chunk_bytes=3) == []


def test_a_row_longer_than_the_limit_is_named_by_its_line(tmp_path: Path) -> None:
    data = b"id,note\n1,a\n2,b\n3,\"" + b"y" * 5000 + b'"\n4,d\n'
    with pytest.raises(RowTooLongError) as caught:
        _pieces(data, tmp_path, chunk_bytes=256, max_row=1024)
    assert caught.value.line == 4
    assert "bill.csv" in str(caught.value)
    assert not list(tmp_path.iterdir())  # the pieces written before the error are gone
