"""noma-rng: the program's random number generator (SPEC §9).

splitmix64 over one unsigned 64-bit state `s`:

    next_u64():   s += 0x9E3779B97F4A7C15; z = s;
                  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
                  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
                  return z ^ (z >> 31)                      (all mod 2**64)
    uniform():    (next_u64() >> 11) * 2**-53               in [0, 1)
    normal(m, s): u1 = uniform(); u2 = uniform();
                  m + s * sqrt(-2 ln(1 - u1)) * cos(2 pi u2)

Scalar draws use Python ints and `math` (libm), so results are bit-identical
to the C runtime. Array fills draw in row-major order. Uniform arrays are
vectorised exactly (the i-th state is s + i * increment, and the remaining
steps are integer operations plus exact conversions); normal arrays take the
uniforms in bulk but do the log/cos with `math`, never numpy's SIMD versions,
whose last bit may differ from libm.
"""

from __future__ import annotations

import math

import numpy as np

from noma.diagnostics import NomaRuntimeError

MASK64 = (1 << 64) - 1
INCREMENT = 0x9E3779B97F4A7C15
MUL1 = 0xBF58476D1CE4E5B9
MUL2 = 0x94D049BB133111EB
TWO_POW_M53 = 2.0**-53
TWO_PI = 2.0 * math.pi

_U64 = np.uint64


def seed_to_state(n: float) -> int:
    """SPEC §9: truncate `n` toward zero and take it modulo 2**64."""
    if isinstance(n, int):
        return n & MASK64
    x = float(n)
    if not math.isfinite(x):
        raise NomaRuntimeError(f"seed must be a finite number, got {x}")
    return int(x) & MASK64


class NomaRng:
    """The program's RNG; `state` is the 64-bit splitmix64 state."""

    __slots__ = ("state",)

    def __init__(self, seed: float = 0) -> None:
        self.state = seed_to_state(seed)

    def seed(self, n: float) -> None:
        """Reset the generator: state = trunc(n) mod 2**64."""
        self.state = seed_to_state(n)

    def next_u64(self) -> int:
        """One splitmix64 step."""
        s = (self.state + INCREMENT) & MASK64
        self.state = s
        z = ((s ^ (s >> 30)) * MUL1) & MASK64
        z = ((z ^ (z >> 27)) * MUL2) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A double in [0, 1) from the top 53 bits of one draw."""
        return (self.next_u64() >> 11) * TWO_POW_M53

    def uniform_range(self, a: float, b: float) -> float:
        """`a + (b - a) * u` (rand_uniform)."""
        return a + (b - a) * self.uniform()

    def normal(self, m: float, s: float) -> float:
        """Box-Muller, cosine branch: u1 then u2."""
        u1 = self.uniform()
        u2 = self.uniform()
        return _box_muller(float(m), float(s), u1, u2)

    # ----- bulk draws (row-major order) -----

    def next_u64_array(self, n: int) -> np.ndarray:
        """The next `n` draws as a uint64 array, in draw order."""
        start = self.state
        self.state = (start + n * INCREMENT) & MASK64
        k = np.arange(1, n + 1, dtype=_U64)
        s = k * _U64(INCREMENT) + _U64(start)
        z = (s ^ (s >> _U64(30))) * _U64(MUL1)
        z = (z ^ (z >> _U64(27))) * _U64(MUL2)
        return z ^ (z >> _U64(31))

    def uniforms(self, n: int) -> np.ndarray:
        """`n` uniforms in [0, 1), float64, in draw order."""
        bits = self.next_u64_array(n) >> _U64(11)
        return bits.astype(np.float64) * TWO_POW_M53

    def uniform_values(self, n: int, a: float, b: float) -> np.ndarray:
        """`n` values `a + (b - a) * u`, in draw order."""
        a = float(a)
        return a + (float(b) - a) * self.uniforms(n)

    def normal_values(self, n: int, m: float, s: float) -> np.ndarray:
        """`n` normal(m, s) values, in draw order (two uniforms each)."""
        u = self.uniforms(2 * n).tolist()
        m, s = float(m), float(s)
        out = [_box_muller(m, s, u[2 * i], u[2 * i + 1]) for i in range(n)]
        return np.array(out, dtype=np.float64)

    def uniform_array(self, shape: tuple[int, ...], a: float = 0.0, b: float = 1.0) -> np.ndarray:
        """A tensor of uniform(a, b) values filled in row-major order."""
        return self.uniform_values(_count(shape), a, b).reshape(shape)

    def normal_array(self, shape: tuple[int, ...], m: float = 0.0, s: float = 1.0) -> np.ndarray:
        """A tensor of normal(m, s) values filled in row-major order."""
        return self.normal_values(_count(shape), m, s).reshape(shape)


def _box_muller(m: float, s: float, u1: float, u2: float) -> float:
    # evaluated left to right as in C: m + ((s * r) * c)
    return m + s * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(TWO_PI * u2)


def _count(shape: tuple[int, ...]) -> int:
    return math.prod(int(d) for d in shape)
