"""What runs inside a warm kernel around each section: the warm-up, the reset before a section and the questions
after it (see :mod:`annual_review.kernel.session`, the engine's contract with the kernel)."""
