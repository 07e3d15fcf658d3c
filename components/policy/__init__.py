"""What the learner is taught from an annotator: the annotator's audit on gold, the learner's judgement of each
answer, and the label policies that keep, or mark missing, the answer's entities."""
