"""The JAX-traceable part of the general theory (THEORY §9.7): the scalar equation for delta
of a task with one (diagonal-in-its-frame) covariance, with its derivative by the implicit
function theorem. Imported only when JAX traces a task argument."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._general import nu_equation, nu_equation_slope

BISECTIONS = 80  # halvings of log(nu) on [gamma, gamma + tr C/m]: 2^-80 of any float64 range


@jax.custom_jvp
def nu_root(lam, m, g):
    """Root ``nu = g (1 + delta)`` of ``F(nu) = 1 - g/nu - (1/m) sum lam/(lam + nu)`` (THEORY
    §9.6): a fixed number of bisections of ``log nu`` on ``[g, g + tr C/m]``, then two Newton
    steps (``F`` is increasing and concave). Differentiable in ``lam, m, g`` through
    ``d nu = -dF / F'(nu)``."""
    lo, hi = g, g + lam.sum() / m

    def halve(_, bracket):
        lo, hi = bracket
        mid = jnp.sqrt(lo * hi)
        below = nu_equation(mid, lam, m, g) < 0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    a, b = jax.lax.fori_loop(0, BISECTIONS, halve, (lo, hi))
    nu = jnp.sqrt(a * b)
    for _ in range(2):
        nu = jnp.clip(nu - nu_equation(nu, lam, m, g) / nu_equation_slope(nu, lam, m, g), lo, hi)
    return nu


@nu_root.defjvp
def _nu_root_jvp(primals, tangents):
    lam, m, g = primals
    nu = nu_root(lam, m, g)
    _, dF = jax.jvp(lambda *args: nu_equation(nu, *args), primals, tangents)
    return nu, -dF / nu_equation_slope(nu, lam, m, g)
