"""Listening and triage: language, sentiment, intent, urgency, engagement criteria,
spikes, bellwethers and suggested answers.

Entry points (imported from their modules so that importing the package stays cheap):

* ``enrich.Enricher`` / ``enrich.default_enricher()`` - the pipeline stage;
* ``engagement.EngagementPolicy.from_yaml()`` - answer / watch / ignore with the rule;
* ``spikes.SpikeDetector`` - streaming spike_raised / spike_cleared events;
* ``influence.influence_scores()`` / ``influence.critic_to_advocate()``;
* ``answers.AnswerBank`` / ``answers.AnswerSuggester`` - canned answers and suggestions;
* ``service.ListeningService`` - all of the above held by the app;
* ``training`` / ``commands`` - ``somebound train`` regenerates the shipped models.
"""
