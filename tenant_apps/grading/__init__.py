"""Grades and the gradebook of a course: gradebook items (one per assignment
and quiz), assignment groups and their weights, rubrics, grading policy
(weighting and letter scheme), grades with their history, and their release
to students."""
