"""Training defaults shared by the CLI and the training code (no imports: the CLI stays fast)."""

# The "at most 5 minutes on 2 cores", with room for start-up.
TIME_BUDGET_S = 285.0
# Prediction cost grows with the number of trees (onnxruntime: about 1.5 us per tree for a
# 100,000-row batch on two cores), so tree learners search at most this many trees and the
# ensemble's members share it. It is the price of the 200,000 rows/s target.
MAX_TREES = 250
# What `amlstack train` searches unless --learners says otherwise (search.LEARNER_SHARE's keys).
LEARNERS = "lgbm,xgboost,catboost,rf,extra_tree,lr,mlp"
