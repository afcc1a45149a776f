"""The recipes: one module (or folder) per recipe, named as its preset, each holding its
readable restatement of the released reward, its batch scanner and its `Recipe` (``terms``),
and the builder of its preset reward. `rankreward.rewards.presets` is their registry."""
