"""The tutorial's own loops, transcribed bare: the speed baseline "the tutorial's loop".

Each function is one of the tutorial's loops as the tutorial writes it, with its
``print`` and ``plt`` calls removed and nothing else changed: Python floats (or the
tutorial's arrays for the curve fit), ``np.exp`` and ``x ** 2`` where the tutorial
writes them, ``y_new = f(x_new)`` still computed every step (the tutorial computes
it for its print).  Only the constants the tutorial hard-codes (start, rate, epochs,
the decay period and factor) became arguments.  ``exp_quadratic_ftol`` is the
first loop with the stopping test the tutorial describes in words (stop when the
output changes little), as fastgd's ``ftol`` applies it.

`fastgd.reference` is the correctness oracle (it adds fastgd's stopping rules,
statuses and recorded paths); these loops are what the benchmarks and ``fastgd
demo`` time as the tutorial's speed, and are never used to check correctness.
"""

import numpy as np

# --- e^x + x^2: the first loop, the ftol-stopped variant and momentum ----------------


def f(x):
    return np.exp(x) + x ** 2


def df(x):
    return np.exp(x) + x * 2


def exp_quadratic(x, lr, epochs):
    for i in range(epochs):
        x_new = x - lr * df(x)
        y_new = f(x_new)  # the tutorial prints and plots it
        x = x_new
    return x


def exp_quadratic_ftol(x, lr, epochs, ftol):
    """Returns the final x and the epochs run."""
    y = f(x)
    for i in range(epochs):
        x_new = x - lr * df(x)
        y_new = f(x_new)
        x = x_new
        if abs(y_new - y) <= ftol:
            break
        y = y_new
    return x, i + 1


def exp_quadratic_momentum(x, lr, epochs, beta):
    v = 0
    for i in range(epochs):
        v = beta * v - lr * df(x)
        x_new = x + v
        y_new = f(x_new)
        x = x_new
    return x


# --- the saddle e^(x+y) + x^2 - y^2 ------------------------------------------------------


def saddle_f(x, y):
    return np.exp(x + y) + x ** 2 - y ** 2


def dfx(x, y):
    return np.exp(x + y) + x * 2


def dfy(x, y):
    return np.exp(x + y) - y * 2


def saddle(x, y, lr, epochs):
    for i in range(epochs):
        x_new = x - lr * dfx(x, y)
        y_new = y - lr * dfy(x, y)
        x = x_new
        y = y_new
    return x, y


# --- the quartic, and step decay -----------------------------------------------------------


def quartic_f(x):
    return x ** 4 - 5 * x ** 2 + 2 * x + 10


def quartic_df(x):
    return 4 * x ** 3 - 10 * x + 2


def quartic(x, lr, epochs):
    for i in range(epochs):
        x_new = x - lr * quartic_df(x)
        y_new = quartic_f(x_new)
        x = x_new
    return x


def train(start_x, lr_type='fixed', base_lr=0.15, epochs=30, every=10, factor=0.5):
    """The tutorial's ``train``: its path, from ``start_x``."""
    x = start_x
    path = [x]
    lr = base_lr

    for epoch in range(1, epochs + 1):
        # Step Decay
        if lr_type == 'scheduling':
            if epoch % every == 0:
                lr = lr * factor

        grad = quartic_df(x)
        x = x - lr * grad
        path.append(x)
    return np.array(path)


# --- the curve fit y = e^(-a x) + b x + c ------------------------------------------------


def func(x, a, b, c):
    return np.exp((-a) * x) + b * x + c


def d_loss_a(x, y_hat, y, a, b, c):
    return np.mean(2 * (y_hat - y) * np.exp((-a)*x) * (-x))


def d_loss_b(x, y_hat, y, a, b, c):
    return np.mean(2 * (y_hat - y)* x)


def d_loss_c(x, y_hat, y, a, b, c):
    return np.mean(2 * (y_hat - y))


def points_of(x, y):
    """The tutorial's ``points``: shape (n, 2, 1), one ``[x, y]`` pair of 1-element
    arrays per datum, as its ``points.append([x, y])`` builds it."""
    return np.array([[np.array([xi]), np.array([yi])] for xi, yi in zip(x, y)])


def fit(points, a, b, c, lr, epochs):
    for i in range(epochs):
        x = points[:, 0]
        y = points[:, 1]
        y_hat = func(x, a, b, c)
        a_new = a - lr * d_loss_a(x, y_hat, y, a, b, c)
        b_new = b - lr * d_loss_b(x, y_hat, y, a, b, c)
        c_new = c - lr * d_loss_c(x, y_hat, y, a, b, c)
        a = a_new
        b = b_new
        c = c_new
    return a, b, c


def fit_minibatch(points, a, b, c, lr, epochs, batch_size=10):
    for i in range(epochs):
        for j in range(0, points.shape[0], batch_size):
            x = points[j:j+batch_size, 0]
            y = points[j:j+batch_size, 1]
            y_hat = func(x, a, b, c)
            a_new = a - lr * d_loss_a(x, y_hat, y, a, b, c)
            b_new = b - lr * d_loss_b(x, y_hat, y, a, b, c)
            c_new = c - lr * d_loss_c(x, y_hat, y, a, b, c)
            a = a_new
            b = b_new
            c = c_new
    return a, b, c
