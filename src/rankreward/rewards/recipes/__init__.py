"""The recipes: one folder (or module) per recipe, named as its preset: the readable
restatement of the released reward, the Numba batch scanner for the common answer form (the
restatement scores the rows it leaves), the `Recipe` (``terms``) and the preset builder.
`rankreward.rewards.presets` is their registry; docs/add-a-recipe.md walks through adding one."""
