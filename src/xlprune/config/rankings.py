"""What each ranking.method is, in one place and without imports (a config is checked
before torch loads): the scores it needs, which take a granularity, which are ranked as
stored, which have a target-language form."""

# ranking.method -> the scores it computes (random computes none; max ranks the gradient
# scores in reverse)
SCORE_METHOD = {
    "gradient": "gradient",
    "max": "gradient",
    "textpruner": "textpruner",
    "iterative": "iterative",
    "shapley": "shapley",
}
METHODS = (*SCORE_METHOD, "random")
GRANULARITIES = ("sentence", "batch", "token")  # heads.GRANULARITIES (tests/test_config.py)
DEFAULT_GRANULARITY = "sentence"  # conf/ranking/gradient.yaml
GRADIENT_BASED = ("gradient", "iterative")  # score methods that take a granularity
ORDERED = ("iterative", "shapley")  # score methods whose matrix is ranked as it is stored
TARGETED = ("shapley",)  # ranking methods with a target-language form (ranking.on=target)
COMBINE = ("sum", "merge")
