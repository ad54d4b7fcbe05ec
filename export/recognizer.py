"""Attention OCR: a small CNN encoder and a GRU decoder with additive attention.

The encoder turns a plate crop into a grid of features (each with a learned 2-D position
embedding, so two-line plates can be read top row first) and precomputes everything that
does not change between decoding steps: the attention keys and the initial hidden state.
The decoder is one step of the greedy loop, exported on its own so the runtime can stop as
soon as every plate has emitted the end token.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from export.layers import Residual, conv_bn

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
END = len(CHARSET)  # 36: the decoder's last output class
START = END + 1  # 37: only ever an input token
MAX_LENGTH = 8
INPUT_HEIGHT, INPUT_WIDTH = 48, 144
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
# The runtime cuts each plate once per margin here, the detector's quad widened by that fraction of
# the plate's size on each side, and decodes the crops in lockstep (greedy(views=...)). The real crops
# this network learned from show the plate's border and a little around it, while the detector's
# corners sit on the plate's edge: 0.03 frames a plate as they do (chosen on train splits, session 15:
# street_plates --split train 549 -> 558 of 569 read). Rendered training crops are framed wider, and
# averaging the read at twice that margin with it read 1683 -> 1701 of 1707 rendered plates over train
# frames (--rendered 11, 23, 31), br-crops train end to end 871 -> 874 of 896 (runs/s16/VIEWS_RULE.txt).
CROP_MARGINS = (0.03, 0.06)
# A detection the detector is not sure of (score under CHECK_SCORE) is answered only if this network
# reads characters in it: the geometric mean of its character confidences at least CHECK_CONFIDENCE.
# Tail lights, signs and lettering taken for plates read as nothing (scenes-ro train look-alikes: 0.31
# at the median, its plates 0.55, Brazilian plates pasted in street frames 0.4 and more). Chosen on
# train splits and fresh render seeds (runs/s17/READ_CHECK_RULE.txt): scenes-ro train audited precision
# 0.912 -> 0.962 for 1 of its 559 found plates; no Brazilian street plate lost; 8 of 323 found rendered
# plates lost, every one of them misread.
CHECK_SCORE, CHECK_CONFIDENCE = 0.98, 0.32
# The less sure the detector, the surer the reading must be: the bar rises linearly from CHECK_CONFIDENCE at
# CHECK_SCORE to CHECK_LOW_CONFIDENCE at CHECK_LOW_SCORE (the detector's threshold until session 25, and
# held there below it). Sign lettering in grey
# photos without plates (backgrounds-gray) is found at 0.67 (median) and reads at 0.41, as surely as a
# Romanian plate, which the detector doubts less (0.9-0.98). Chosen on dev (runs/s18/CHECK_RAMP_RULE.txt).
CHECK_LOW_SCORE, CHECK_LOW_CONFIDENCE = 0.4, 0.7


# The plate check: a box whose crop this network's plate head scores under PLATE_SCORE (the mean over the
# crop margins' views) is not answered, however sure the detector is. Shop lettering, sign words and
# striped facades the detector takes for plates at 0.98 and more read as plates (docs/history.md,
# session 24); the head tells them from plates of any country by their look, not by their text. Chosen on
# dev (runs/s25/CHECK2_RULE.txt): the highest bar losing at most one plate of a scenes-ro video the head
# never saw (455 -> 454 answered; 0.5 would lose 4); plate-free dev photos answered 14 -> 2.
PLATE_SCORE = 0.2


class Encoder(nn.Module):
    """Crop [N,3,48,144] -> features [N,L,C], attention keys [N,L,A], initial hidden [N,H], plate score [N].

    The plate score is a small head on the feature grid, trained after the rest on the frozen
    encoder (export/train_plate_check.py): whether the crop shows a plate at all, whatever it reads.
    """

    def __init__(self, channels: int = 128, attention: int = 128, hidden: int = 128) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            conv_bn(3, 16, 3), nn.MaxPool2d(2),  # 24x72
            conv_bn(16, 32, 3), nn.MaxPool2d(2),  # 12x36
            conv_bn(32, 64, 3), conv_bn(64, 64, 3), Residual(64), nn.MaxPool2d(2),  # 6x18
            conv_bn(64, channels, 3), conv_bn(channels, channels, 3), Residual(channels),
        )
        grid = (INPUT_HEIGHT // 8, INPUT_WIDTH // 8)
        self.position = nn.Parameter(torch.zeros(1, channels, *grid))
        nn.init.normal_(self.position, std=0.02)
        self.to_keys = nn.Linear(channels, attention)
        self.to_hidden = nn.Linear(channels, hidden)
        self.plate_cnn = nn.Sequential(conv_bn(channels, 64, 3), conv_bn(64, 64, 3))
        self.to_plate = nn.Linear(128, 1)  # from the mean and the max of plate_cnn over the grid

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        grid = self.cnn(images) + self.position
        features = grid.flatten(2).transpose(1, 2)  # [N, L, C]
        keys = self.to_keys(features)
        hidden = torch.tanh(self.to_hidden(features.mean(dim=1)))
        return features, keys, hidden, torch.sigmoid(self.plate_logit(grid))

    def plate_logit(self, grid: torch.Tensor) -> torch.Tensor:
        """[N,C,h,w] feature grid -> [N] logit that the crop is a plate."""
        look = self.plate_cnn(grid)
        return self.to_plate(torch.cat([look.mean(dim=(2, 3)), look.amax(dim=(2, 3))], dim=1)).squeeze(1)


class DecoderStep(nn.Module):
    """One greedy step: previous token, hidden, features, keys -> logits, next hidden, attention."""

    def __init__(self, channels: int = 128, attention: int = 128, hidden: int = 128, embedding: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(START + 1, embedding)
        self.query = nn.Linear(hidden, attention, bias=False)
        self.energy = nn.Linear(attention, 1, bias=False)
        self.gru = nn.GRUCell(embedding + channels, hidden)
        self.out = nn.Linear(hidden + channels, END + 1)

    def forward(
        self, token: torch.Tensor, hidden: torch.Tensor, features: torch.Tensor, keys: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores = self.energy(torch.tanh(keys + self.query(hidden).unsqueeze(1))).squeeze(2)  # [N, L]
        attention = torch.softmax(scores, dim=1)
        context = torch.bmm(attention.unsqueeze(1), features).squeeze(1)  # [N, C]
        next_hidden = self.gru(torch.cat([self.embed(token), context], dim=1), hidden)
        logits = self.out(torch.cat([next_hidden, context], dim=1))
        return logits, next_hidden, attention


class Recognizer(nn.Module):
    """Encoder + decoder step, with teacher-forced training and the reference greedy decode."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.decoder = DecoderStep()

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: inputs [N,T] (START + text) -> logits [N,T,37]."""
        features, keys, hidden, _ = self.encoder(images)
        steps = []
        for t in range(inputs.shape[1]):
            logits, hidden, _ = self.decoder(inputs[:, t], hidden, features, keys)
            steps.append(logits)
        return torch.stack(steps, dim=1)

    @torch.no_grad()
    def greedy(self, images: torch.Tensor, views: int = 1) -> list[tuple[str, list[float]]]:
        """The reference decode the runtime's loop must match: text and per-character confidence.

        With views > 1, images holds `views` crops of each plate one after another; at each step the
        plate's softmax probabilities are averaged over its views, the argmax of the mean is its
        character (fed back to every view) and the mean its confidence: one reading per plate.
        """
        features, keys, hidden, _ = self.encoder(images)
        n = images.shape[0] // views
        token = torch.full((n * views,), START, dtype=torch.long, device=images.device)
        texts: list[list[str]] = [[] for _ in range(n)]
        confs: list[list[float]] = [[] for _ in range(n)]
        done = [False] * n
        for _ in range(MAX_LENGTH + 1):
            logits, hidden, _ = self.decoder(token, hidden, features, keys)
            probs = F.softmax(logits, dim=1).reshape(n, views, -1).mean(dim=1).cpu()  # one copy per step
            best = probs.argmax(dim=1)
            for i in range(n):
                k = int(best[i])
                if done[i] or k == END or len(texts[i]) == MAX_LENGTH:
                    done[i] = True
                    continue
                texts[i].append(CHARSET[k])
                confs[i].append(float(probs[i, k]))
            if all(done):
                break
            token = best.repeat_interleave(views).to(images.device)
        return [("".join(t), c) for t, c in zip(texts, confs)]


def encode_targets(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts -> (decoder inputs START+text, targets text+END), padded with -100 for the loss."""
    length = max(len(t) for t in texts) + 1
    inputs = torch.full((len(texts), length), END, dtype=torch.long)
    targets = torch.full((len(texts), length), -100, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = [CHARSET.index(c) for c in text]
        inputs[i, : len(ids) + 1] = torch.tensor([START] + ids)
        targets[i, : len(ids) + 1] = torch.tensor(ids + [END])
    return inputs, targets
