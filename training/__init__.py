"""reverie's soft-token RL trainer: tasks, a small Llama, SFT, RLOO (hard/soft/fuzzy), evaluation."""
