"""Quizzes and exams: questions, attempts, responses and their grading."""
